"""The public beacon endpoint: ``POST /collect``, ``GET /beacon.js`` and ``GET /healthz``.

Contract:

- ``POST /collect`` takes ``application/json`` or ``text/plain`` (what ``sendBeacon``
  sends), at most ``settings.max_body_bytes``, holding one event object or
  ``{"events": [...]}`` with 1..``settings.max_events`` items. Only the envelope is
  checked here; every event is judged by the validate agent, so a bad event ends in the
  dead-letter topic with a reason instead of vanishing at the door.
- An accepted request becomes one ``stream.models.RawBatch`` on ``settings.topic_raw``,
  keyed by the first event's ``session_id``, and is answered ``202 {"accepted": n}`` only
  after Kafka acknowledged it. When Kafka or the salt store cannot take it the answer is
  ``503`` with ``Retry-After``; the beacon retries.
- Requests whose ``Origin`` (else ``Referer``) is not one of ``settings.site_origins``
  are answered ``403 {"error": "origin"}``; those with neither follow
  ``settings.originless``. The site API (``/api/...``) is held to the same rule.
- ``GET /schema/events.json`` is the event contract as JSON Schema (``stream.ingest.schema``),
  public like ``beacon.js``, with a strong ETag.
- Errors are ``{"error": "<code>", "detail": "<sentence>"}``; ``GET /metrics`` counts
  accepted and refused requests by reason.
- The client is the socket peer, or behind ``settings.trusted_proxies`` the right-most
  ``X-Forwarded-For`` entry that is not a trusted proxy. Its address and user agent are
  used only to derive a visitor id (a keyed hash with a daily salt that is deleted after
  48 hours), a rate-limit bucket (the address alone, hashed the same way), a device class
  and a bot flag. Neither is stored, logged or produced.
- ``DOJO_COLLECTOR_PROCESSES`` processes may serve one port (``collector.processes``); they
  agree on the salt and share the rate limit through Redis as separate replicas would.
"""

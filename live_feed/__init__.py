"""The live feed: admins' WebSocket feed, REST snapshots and the live activity panel.

Contract: metric agents write the latest snapshot of each channel to Redis under
``Keys.snapshot(channel)`` and publish every change on ``Keys.live(channel)`` as
``{"channel", "data", "ts"}`` JSON. Each live feed process holds one pattern
subscription and fans messages out to its own clients, coalesced per client and channel
to at most ``settings.live_max_hz`` sends per second, so any number of processes can run
side by side and a slow client never holds back others. Each update is encoded once and
written to every ready client in one synchronous pass (``hub``, ``lane``); under uvicorn
served with ``app.uvicorn_options()`` the frames go straight to the sockets
(``frame_protocol``), elsewhere through ASGI (``asgi_sink``). Every route but ``/``,
``/healthz`` and ``/metrics`` (see ``DOJO_METRICS_TOKEN``) needs the admin token in a
header or the first WebSocket message (API clients), or a signed, revocable session cookie
opened by signing in (browsers); wrong tokens are throttled per client address. Nothing
logs a token, a query string or a client address (``stream.logs``). ``/healthz``
and ``/metrics`` also report the worker: consumer lag read from Kafka and each agent's
last fold and check-in (``lag``, ``worker_health``).
"""

from __future__ import annotations

from live_feed.app import create_app, serve

__all__ = ["create_app", "serve"]

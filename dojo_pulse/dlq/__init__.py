"""Dead-letter tools: ``dojo-pulse dlq inspect`` and ``dojo-pulse dlq replay``.

Contract:
- Reading ``dojo.events.dlq`` stops at the end offsets taken when the command starts, so a
  busy topic cannot keep a command running; ``--since`` seeks by time before reading.
- A record that is not JSON or not the documented ``DeadLetter`` shape is *unreadable*:
  counted, located, never shown and never replayed. Of a readable one only its documented
  fields are ever shown (the payload was scrubbed by the collector before it was stored).
- ``replay`` sends dead letters back to ``dojo.events.raw`` as ``RawBatch`` messages, one
  per original request, so the validate stage judges them again under the current contract
  and settings; duplicates are still caught by the dedupe claims. Each dead letter is
  replayed at most once: its position is recorded on ``dojo.events.dlq.replayed`` before
  its event is sent.
"""

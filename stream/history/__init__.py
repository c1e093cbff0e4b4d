"""History: the historian that keeps closed minutes in the store, and the queries that read them.

Contract: ``records`` turns one ``history.minutes`` record into a store row or a reason to skip
it (never an exception for bad input); ``batch`` groups rows per channel and minute so that a
channel's minute is written once when all its parts are in, and says which offset is safe to
commit; ``historian`` is the consumer loop (write in a thread, commit only after the write,
prune about once an hour). ``query`` parses an API or CLI request into a checked ``Query``;
``export`` reads the store for one and formats JSON or CSV, the same bytes for both callers.
Nothing here holds a visitor or session id: rows are aggregates (``stream.sketches.tally``).
"""

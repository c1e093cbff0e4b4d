"""One ``history.minutes`` record -> one store row, or the reason it cannot be one.

The topic is written by our own agents, but anything with access to the broker can write
to it; a record that is not what the contract says (docs/topics.md) is skipped with a
reason and never reaches the store. The reason is a fixed word: a record's content is
never logged.

>>> value = b'{"channel": "traffic", "start": 60000, "part": 1, "tally": {"counts": {"views": 2}}}'
>>> row = decode(value)
>>> row.channel, row.start, row.part, row.tally.counts
('traffic', 60000, 1, {'views': 2})
>>> decode(b"[]")
Traceback (most recent call last):
...
stream.history.records.RecordError: shape
"""

from __future__ import annotations

import math
import re

import orjson

from stream.sketches.tally import Tally, TallyError
from stream.store.history import MinuteRow

MINUTE_MS = 60_000
LAST_MS = 253_402_300_800_000  # 10000-01-01: beyond it ISO 8601 years need five digits
MAX_PART = 1 << 16  # a source partition; topics never have nearly this many
# The channels of the contract and any a later agent adds: short lower-case names, which
# are also safe in a CSV file name and a URL path.
CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,31}", re.ASCII)
REASONS = ("empty", "json", "shape", "channel", "start", "part", "tally")


class RecordError(ValueError):
    """A record that is not a closed minute; ``str(error)`` is one of ``REASONS``."""


def decode(value: bytes | None) -> MinuteRow:
    """The store row a record's value holds; ``RecordError(reason)`` for anything else."""
    if not value:
        raise RecordError("empty")  # a tombstone, or a producer that sent nothing
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise RecordError("json") from None
    if not isinstance(body, dict) or not {"channel", "start", "part", "tally"} <= body.keys():
        raise RecordError("shape")
    channel, start, part = body["channel"], body["start"], body["part"]
    if not isinstance(channel, str) or not CHANNEL.fullmatch(channel):
        raise RecordError("channel")
    if not _is_int(start) or not 0 <= start < LAST_MS or start % MINUTE_MS:
        raise RecordError("start")
    if not _is_int(part) or not 0 <= part < MAX_PART:
        raise RecordError("part")
    try:
        tally = Tally.from_wire(body["tally"])
    except TallyError:
        raise RecordError("tally") from None
    # JSON has no NaN or infinity, but orjson reads 1e999 as inf: no sum survives one.
    if not all(math.isfinite(v) for v in tally.counts.values()):
        raise RecordError("tally")
    try:
        return MinuteRow(channel, start, part, tally)
    except ValueError:  # the store's own bounds (a count past 2**63, say)
        raise RecordError("tally") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

"""A history request, checked: channel, interval, the range and its previous period, the format.

The API (``live_feed.history``) and the CLI (``dojo-pulse history export``) both build a
``Query`` with ``parse``, so both refuse the same input with the same words: a
``QueryError`` names the field at fault and what is wrong, never echoing what was sent.
``from``/``to`` are an ISO 8601 date or datetime (no zone: UTC) or epoch ms; ``to`` is
exclusive. The range is widened to whole windows of the interval (UTC days for ``day``).

>>> q = parse([("from", "2024-05-01"), ("to", "2024-05-08")], "traffic", now_ms=0)
>>> q.interval, q.windows, q.previous().start == q.start - 7 * 86_400_000
('hour', 168, True)
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from stream.history.records import CHANNEL, LAST_MS

FIELDS = ("from", "to", "interval", "channel", "compare", "format")
SPANS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}  # finest first
MAX_WINDOWS = 5000  # per response: about 1 MB of JSON for a busy channel
DEFAULT_RANGE_MS = 86_400_000  # without ``from``: the day before ``to``
# The default interval is the finest that keeps a range's windows to a chart's width.
FINEST_FOR = (("minute", 6 * 3_600_000), ("hour", 14 * 86_400_000), ("day", LAST_MS))
MAX_TEXT = 64  # no date, time or word we take is longer
EPOCH_MS = re.compile(r"[0-9]{1,16}", re.ASCII)
# "+02:00" in a query string reads as " 02:00" when the client did not escape the "+".
UNESCAPED_PLUS = re.compile(r" ([0-9]{2}(:?[0-9]{2})?)$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIME_HELP = "an ISO 8601 date or datetime (2024-05-01, 2024-05-01T10:00Z) or epoch ms"


class QueryError(ValueError):
    """A request the history cannot answer: ``field`` is at fault, ``str()`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def body(self) -> dict[str, str]:
        """The API's 400 body."""
        return {"error": str(self), "field": self.field}


@dataclass(frozen=True)
class Query:
    """One channel's windows of ``interval`` from ``start`` (inclusive) to ``end`` (exclusive)."""

    channel: str
    interval: str
    start: int  # epoch ms, on a window boundary
    end: int
    compare: bool = False
    format: str = "json"

    @property
    def span_ms(self) -> int:
        return SPANS[self.interval]

    @property
    def windows(self) -> int:
        return (self.end - self.start) // self.span_ms

    def previous(self) -> Query:
        """The period of the same length just before this one."""
        return replace(self, start=2 * self.start - self.end, end=self.start, compare=False)


def parse(
    params: Iterable[tuple[str, str]],
    channel: str,
    *,
    now_ms: int,
    accept: str = "",
    known: Collection[str] = (),
) -> Query:
    """Check a request's parameters (pairs, repeats refused) for ``channel``.

    ``known``: the channels that may be asked for (empty: any well-formed name).
    ``accept``: the request's Accept header (``text/csv`` asks for CSV).
    """
    given: dict[str, str] = {}
    for name, value in params:
        if name in FIELDS:
            if name in given:
                raise QueryError(name, f"{name} is given more than once")
            given[name] = value
    if len(channel) > MAX_TEXT or not CHANNEL.fullmatch(channel):
        raise QueryError("channel", "a channel is a short lower-case name, such as traffic")
    if known and channel not in known:
        raise QueryError("channel", f"no channel {channel!r}; choose from {', '.join(known)}")
    fmt = given.get("format", "csv" if asks_for_csv(accept) else "json")
    if fmt not in ("json", "csv"):
        raise QueryError("format", "format is json or csv")
    compare = given.get("compare")
    if compare not in (None, "previous"):
        raise QueryError("compare", "compare is previous (or left out)")
    interval = given.get("interval")
    if interval is not None and interval not in SPANS:
        raise QueryError("interval", "interval is minute, hour or day")
    end = parse_time("to", given["to"]) if "to" in given else now_ms
    start = parse_time("from", given["from"]) if "from" in given else end - DEFAULT_RANGE_MS
    if start >= end:
        at_fault = "to" if "to" in given else "from"
        raise QueryError(at_fault, "from must be before to")
    interval = interval or next(name for name, most in FINEST_FOR if end - start <= most)
    span = SPANS[interval]
    query = Query(channel, interval, start - start % span, -(-end // span) * span,
                  compare is not None, fmt)  # fmt: skip
    if query.windows > MAX_WINDOWS:
        fits = [n for n, s in SPANS.items() if -(-end // s) - start // s <= MAX_WINDOWS]
        if not fits:
            raise QueryError("from", f"the range is too long: at most {MAX_WINDOWS} days")
        raise QueryError(
            "interval",
            f"{query.windows} {interval} windows are more than {MAX_WINDOWS}: "
            f"use interval={fits[0]} or a shorter range",
        )
    if query.compare and query.previous().start < 0:
        raise QueryError("compare", "the previous period would begin before 1970")
    return query


def parse_time(field: str, raw: str) -> int:
    """Epoch ms of an ISO 8601 date/datetime (no zone: UTC) or of epoch ms digits."""
    if not raw or len(raw) > MAX_TEXT or not raw.isascii():
        raise QueryError(field, f"{field} is {TIME_HELP}")
    if EPOCH_MS.fullmatch(raw):
        ms = int(raw)
    else:
        try:
            when = datetime.fromisoformat(UNESCAPED_PLUS.sub(r"+\1", raw))
        except ValueError:
            raise QueryError(field, f"{field} is {TIME_HELP}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        ms = (when - EPOCH) // timedelta(milliseconds=1)
    if not 0 <= ms < LAST_MS:
        raise QueryError(field, f"{field} is from 1970 to 9999")
    return ms


def asks_for_csv(accept: str) -> bool:
    """Whether an Accept header prefers ``text/csv`` to JSON (the first of them listed wins)."""
    for media in accept[:1000].split(","):
        kind = media.split(";")[0].strip().lower()
        if kind == "text/csv":
            return True
        if kind in ("application/json", "*/*"):
            return False
    return False

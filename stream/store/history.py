"""History: every channel's tallies per minute, rolled up to hours and days.

One table, ``history(channel, size, start, part, tally, updated_ms)``. Minute rows are
written per source partition (``part``); hour and day rows hold the merge over all parts
(``part = WHOLE``). Roll-ups are recomputed from the rows below them, never incremented, so
writing the same minute twice (a replay, a restart) changes nothing, and unique counters
stay unions: an hour's visitors are the union of its minutes', a day's of its hours'.

Each window's summary (``summary``: the numbers charts show) is written in the same
transaction. Tallies go through the checkpoint codec with the sketch libraries' versions:
a reader with other versions refuses them instead of misreading registers. Aggregates
only: a tally holds counts and sketches of 64-bit fingerprints, never an id.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from stream.settings import Settings
from stream.sketches import codec, quantiles, uniques
from stream.sketches.tally import Tally, merged
from stream.store import dialects, summary
from stream.store.summary import SUMMARIES

SIZES = ("minute", "hour", "day")
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
SPAN_MS = {"minute": MINUTE_MS, "hour": HOUR_MS, "day": DAY_MS}
WHOLE = -1  # the part of hour and day rows: all source partitions merged
MAX_CHANNEL = 100  # characters; channels are short names ("traffic"), this is only a bound
MAX_MS = 2**53  # times stay exact in JSON numbers (and far inside BIGINT)
MAX_PART = 2**31 - 1  # INT column
KIND, VERSION = "tally", 1
LIBRARIES = (uniques.LIBRARY, quantiles.LIBRARY)

METADATA = sa.MetaData()
# The head of migrations/versions: 0001_history.py creates this table.
HISTORY = sa.Table(
    "history",
    METADATA,
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("size", sa.Text, primary_key=True),
    sa.Column("start", sa.BigInteger, primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("tally", sa.LargeBinary, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)
_KEY = ("channel", "size", "start", "part")


def check_channel(channel: object) -> str:
    """``channel`` if it can be stored as given; ``ValueError`` saying why not."""
    if not isinstance(channel, str) or not 0 < len(channel) <= MAX_CHANNEL:
        raise ValueError(f"a channel is a name of 1 to {MAX_CHANNEL} characters")
    # PostgreSQL TEXT cannot hold NUL, and control characters make no channel name.
    if not channel.isprintable():
        raise ValueError("a channel name holds no control characters")
    return channel


def _check_ms(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MS:
        raise ValueError(f"{name} is a time in epoch ms from 0 to 2**53")
    return value


@dataclass(frozen=True)
class MinuteRow:
    """What one source partition (``part``) tallied for ``channel`` in the minute at ``start``."""

    channel: str
    start: int  # epoch ms, UTC, on a minute boundary
    part: int
    tally: Tally

    def __post_init__(self) -> None:
        check_channel(self.channel)
        if _check_ms("start", self.start) % MINUTE_MS:
            raise ValueError("start is the first ms of a minute")
        if not isinstance(self.part, int) or isinstance(self.part, bool):
            raise ValueError("part is an int")
        if not 0 <= self.part <= MAX_PART:
            raise ValueError(f"part is from 0 to {MAX_PART}")
        if not isinstance(self.tally, Tally):
            raise ValueError("tally is a Tally")
        # JSON has no NaN or infinity: such a count would be written as null, unreadable.
        if not all(math.isfinite(v) and abs(v) < 2**63 for v in self.tally.counts.values()):
            raise ValueError("every count is a finite number below 2**63")


@dataclass(frozen=True)
class Retention:
    """How many days rows of each size are kept; ``days_days`` None keeps day rows."""

    minutes_days: int = 14
    hours_days: int = 396
    days_days: int | None = None

    def __post_init__(self) -> None:
        # Hour rows are rebuilt from minute rows and day rows from hour rows: a row may
        # only go after the rows built from it could no longer change.
        if not 1 <= self.minutes_days < self.hours_days:
            raise ValueError(
                f"history retention: DOJO_HISTORY_HOURS_DAYS ({self.hours_days}) must be more "
                f"than DOJO_HISTORY_MINUTES_DAYS ({self.minutes_days}), which is at least 1"
            )
        if self.days_days is not None and self.days_days < 1:
            raise ValueError("history retention: DOJO_HISTORY_DAYS_DAYS is 0 (keep) or more")

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        """The retention ``DOJO_HISTORY_*_DAYS`` set (0 days of day rows: kept)."""
        days = settings.history_days_days
        return cls(settings.history_minutes_days, settings.history_hours_days, days or None)

    def days(self, size: str) -> int | None:
        """Days rows of ``size`` are kept (None: for ever)."""
        return {"minute": self.minutes_days, "hour": self.hours_days}.get(size, self.days_days)


def encode(tally: Tally) -> bytes:
    """A tally as stored: the checkpoint codec with the sketch libraries' versions."""
    return codec.encode(KIND, VERSION, tally.to_wire(), libraries=LIBRARIES)


def decode(blob: bytes) -> Tally:
    """Inverse of ``encode``; ``codec.CheckpointError`` for bytes it cannot trust."""
    return codec.decode(KIND, blob, {1: Tally.from_wire})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _floor(ms: int, span: int) -> int:
    return ms - ms % span


def write_minutes(
    engine: sa.Engine,
    rows: Sequence[MinuteRow],
    *,
    now_ms: int | None = None,
    retention: Retention = Retention(),
) -> int:
    """Upsert minute rows and recompute their hours and days, in one transaction.

    Minutes whose hour began before minute retention (from ``now_ms``, default the wall
    clock) are ignored: that hour's other minutes may be pruned already. The newest row
    wins where ``rows`` repeats a key. Returns how many minute rows were written.
    """
    now = _now_ms() if now_ms is None else now_ms
    cutoff = now - retention.minutes_days * DAY_MS
    latest: dict[tuple[str, int, int], MinuteRow] = {}
    for row in rows:
        if not isinstance(row, MinuteRow):
            raise TypeError(f"write_minutes takes MinuteRow, not {type(row).__name__}")
        if _floor(row.start, HOUR_MS) >= cutoff:
            latest[row.channel, row.start, row.part] = row
    if not latest:
        return 0
    hours = sorted({(channel, _floor(start, HOUR_MS)) for channel, start, _ in latest})
    days = sorted({(channel, _floor(hour, DAY_MS)) for channel, hour in hours})
    written = {(channel, start) for channel, start, _ in latest}
    summaries: list[tuple[str, str, int, summary.Summary]] = []
    with dialects.for_writing(engine).begin() as conn:
        _upsert(conn, [_record(c, "minute", s, p, r.tally, now) for (c, s, p), r in latest.items()])
        for size, windows in (("hour", hours), ("day", days)):
            records = []
            for channel, start in windows:
                below = _below(conn, channel, SIZES[SIZES.index(size) - 1], start)
                tally = merged(t for _, t in below)
                records.append(_record(channel, size, start, WHOLE, tally, now))
                summaries.append((channel, size, start, summary.of(tally, len(below))))
                if size == "hour":  # a minute's summary is of all its parts, written or not
                    summaries += summary.of_minutes(channel, below, written)
            _upsert(conn, records)
        summary.upsert(conn, summaries)
    return len(latest)


def _record(
    channel: str, size: str, start: int, part: int, tally: Tally, now: int
) -> dict[str, object]:
    return {
        "channel": channel, "size": size, "start": start, "part": part,
        "tally": encode(tally), "updated_ms": now,
    }  # fmt: skip


def _below(conn: sa.Connection, channel: str, below: str, start: int) -> list[tuple[int, Tally]]:
    """The ``below``-size rows of ``channel`` inside the window above them at ``start``."""
    span = SPAN_MS[SIZES[SIZES.index(below) + 1]]
    query = sa.select(HISTORY.c.start, HISTORY.c.tally).where(
        within(HISTORY, channel, below, start, start + span)
    )
    return [(begins, decode(blob)) for begins, blob in conn.execute(query)]


def _upsert(conn: sa.Connection, records: list[dict[str, object]]) -> None:
    if not records:
        return
    statement = dialects.insert(conn.dialect.name)(HISTORY)
    statement = statement.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={"tally": statement.excluded.tally, "updated_ms": statement.excluded.updated_ms},
    )
    conn.execute(statement, records)


def within(
    table: sa.Table, channel: str, size: str, first: int, end: int
) -> sa.ColumnElement[bool]:
    """Rows of ``table`` (history's key) of ``channel``'s ``size`` windows in [first, end)."""
    return sa.and_(
        table.c.channel == channel,
        table.c.size == size,
        table.c.start >= first,
        table.c.start < end,
    )


def check_range(channel: object, size: object, start_ms: object, end_ms: object) -> None:
    """``ValueError`` unless a range of ``channel``'s ``size`` windows can be read as given."""
    check_channel(channel)
    if size not in SIZES:
        raise ValueError(f"size is one of {', '.join(SIZES)}")
    _check_ms("start_ms", start_ms)
    _check_ms("end_ms", end_ms)


def read(
    engine: sa.Engine, channel: str, size: str, start_ms: int, end_ms: int
) -> list[tuple[int, Tally]]:
    """Windows of ``size`` starting in [start_ms, end_ms), merged over parts, oldest first."""
    check_range(channel, size, start_ms, end_ms)
    query = (
        sa.select(HISTORY.c.start, HISTORY.c.tally)
        .where(within(HISTORY, channel, size, start_ms, end_ms))
        .order_by(HISTORY.c.start)
    )
    with engine.connect() as conn:
        found = conn.execute(query).all()
    out: list[tuple[int, Tally]] = []
    for start, blob in found:
        tally = decode(blob)
        if out and out[-1][0] == start:
            out[-1][1].update(tally)
        else:
            out.append((start, tally))
    return out


def channels(engine: sa.Engine) -> list[str]:
    """Channels with any row, by name."""
    with engine.connect() as conn:
        return list(
            conn.scalars(sa.select(HISTORY.c.channel).distinct().order_by(HISTORY.c.channel))
        )


def prune(engine: sa.Engine, now_ms: int, retention: Retention) -> dict[str, int]:
    """Delete rows older than ``retention`` at ``now_ms``; rows deleted per size."""
    deleted = dict.fromkeys(SIZES, 0)
    names = channels(engine)
    with dialects.for_writing(engine).begin() as conn:
        for size in SIZES:
            days = retention.days(size)
            if days is None:
                continue
            # Per channel, so each DELETE walks the primary key instead of the table.
            for channel in names:
                for table in (SUMMARIES, HISTORY):
                    done = conn.execute(
                        sa.delete(table).where(
                            table.c.channel == channel,
                            table.c.size == size,
                            table.c.start < now_ms - days * DAY_MS,
                        )
                    )
                deleted[size] += done.rowcount  # of history, the last table
    return deleted


def totals(windows: Iterable[tuple[int, Tally]]) -> Tally:
    """The merge of ``read``'s windows: a range's total (uniques as a union)."""
    return merged(tally for _, tally in windows)

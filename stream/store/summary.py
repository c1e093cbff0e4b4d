"""A window's summary: the numbers a chart shows, kept beside the tallies they come from.

Table ``history_summary`` has a row per window of ``history`` (channel, size, start), written
in the same transaction as its tallies: ``summary`` is JSON ``{"counts": {...},
"sketches": {...}}`` (the counts of the window merged over its parts, and the numbers its
sketches give: unique estimates, ``name.n``/``.p50``/...), and ``built_from`` how many
``history`` rows were merged into it (a minute: its parts; an hour: minute rows; a day:
hour rows). Charts over many windows read these instead of decoding sketches (an hour of
traffic holds its visitors as an exact set of ~35 KB). ``built_from`` tells a reader whether
a day row still stands for the hour rows beside it: retention deletes the oldest hours,
never their day.

A table of its own rather than a column of ``history``: SQLite stores a row's columns in
order, so a column after the tally would be read by walking the tally's overflow pages.
And a minute's parts have one summary, of their merge: unique counts do not add up.

>>> from stream.sketches.tally import Tally
>>> s = of(Tally(counts={"views": 3}), built_from=2)
>>> loads(dumps(s), 2) == s, s.numbers()
(True, {'views': 3})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from stream.sketches.tally import Tally, merged
from stream.store import dialects

Numbers = dict[str, float | None]
_NUMBERS, _NUMBERS_OR_NONE = {int, float}, {int, float, type(None)}

METADATA = sa.MetaData()
# The head of migrations/versions: 0003_history_summary.py creates this table.
SUMMARIES = sa.Table(
    "history_summary",
    METADATA,
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("size", sa.Text, primary_key=True),
    sa.Column("start", sa.BigInteger, primary_key=True),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("built_from", sa.Integer, nullable=False),
)


class SummaryError(ValueError):
    """A stored summary that cannot be read (corrupt, or not written by this store)."""


@dataclass(frozen=True)
class Summary:
    """One row's numbers: ``counts`` add up across windows, ``sketches`` do not."""

    counts: dict[str, float]
    sketches: Numbers
    built_from: int

    def numbers(self) -> Numbers:
        """What ``Tally.summary()`` of the row's tally gives, in the same order."""
        return {**self.counts, **self.sketches}


def of(tally: Tally, built_from: int) -> Summary:
    """The summary of ``tally``, merged from ``built_from`` rows of the size below."""
    numbers = tally.summary()
    counts = {name: numbers.pop(name) for name in tally.counts}
    return Summary(counts, numbers, built_from)  # type: ignore[arg-type]  # counts are numbers


def of_minutes(
    channel: str, rows: list[tuple[int, Tally]], written: set[tuple[str, int]]
) -> list[tuple[str, str, int, Summary]]:
    """Summaries of the minutes of ``channel`` in ``written``, each of all its parts in ``rows``."""
    out = []
    for minute in sorted({m for m, _ in rows if (channel, m) in written}):
        parts = [t for m, t in rows if m == minute]
        out.append((channel, "minute", minute, of(merged(parts), len(parts))))
    return out


def dumps(summary: Summary) -> str:
    """The ``summary`` column's text."""
    return orjson.dumps({"counts": summary.counts, "sketches": summary.sketches}).decode()


def loads(text: object, built_from: object) -> Summary:
    """Inverse of ``dumps`` (with the ``built_from`` column); ``SummaryError`` if unreadable."""
    try:
        data: Any = orjson.loads(text)  # type: ignore[arg-type]  # checked just below
    except (orjson.JSONDecodeError, TypeError):
        raise SummaryError("a history summary is not JSON text") from None
    if not isinstance(data, dict) or type(built_from) is not int:
        raise SummaryError("a history summary is an object with counts and sketches")
    counts, sketches = data.get("counts"), data.get("sketches")
    if not isinstance(counts, dict) or not isinstance(sketches, dict):
        raise SummaryError("a history summary has counts and sketches objects")
    # Type by type, not isinstance: a JSON true is no number (and bool is an int). A set
    # of the types is built in C: a year of hours has ~400,000 numbers to check.
    if not set(map(type, counts.values())) <= _NUMBERS or not (
        set(map(type, sketches.values())) <= _NUMBERS_OR_NONE
    ):
        raise SummaryError("a history summary holds numbers only")
    return Summary(counts, sketches, built_from)


def upsert(conn: sa.Connection, summaries: list[tuple[str, str, int, Summary]]) -> None:
    """Write (channel, size, start, summary) rows, replacing what those windows had."""
    if not summaries:
        return
    statement = dialects.insert(conn.dialect.name)(SUMMARIES)
    statement = statement.on_conflict_do_update(
        index_elements=["channel", "size", "start"],
        set_={"summary": statement.excluded.summary, "built_from": statement.excluded.built_from},
    )
    conn.execute(statement, [record(*row) for row in summaries])


def record(channel: str, size: str, start: int, summary: Summary) -> dict[str, object]:
    """The ``history_summary`` row of one window."""
    return {
        "channel": channel, "size": size, "start": start,
        "summary": dumps(summary), "built_from": summary.built_from,
    }  # fmt: skip

"""A range of history as charts want it: each window's numbers and the numbers of their merge.

``summarized`` answers what ``read`` + ``Tally.summary()`` + ``totals`` answer, from the
windows' summaries (``stream.store.summary``) instead of their tallies. The total is built
from the coarser rows that stand exactly for the windows inside the range (a day row for
its 24 hour rows, while all 24 are there) and the windows at its edges: its counts add
their summaries' counts (whole numbers, so exact in any order), its uniques and quantiles
merge their tallies. A unique counter is a function of the set of keys it saw and a
quantile sketch's bins add, so that merge equals merging every window.

A year of hours of traffic decodes 365 day rows instead of 8,760 hour rows (bench/history.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import sqlalchemy as sa

from stream.sketches.tally import Tally, merged
from stream.store import history
from stream.store.history import HISTORY, SPAN_MS, within
from stream.store.summary import SUMMARIES, Numbers, Summary, loads

# The size whose rows may stand for several windows of a range at each size.
COARSER = {"minute": "hour", "hour": "day"}
Window = tuple[int, Numbers]


def summarized(
    engine: sa.Engine, channel: str, size: str, start_ms: int, end_ms: int
) -> tuple[list[Window], Numbers]:
    """Windows of ``size`` in [start_ms, end_ms) as (start, summary), and their total's summary.

    The same numbers as ``read``'s windows' ``summary()`` and ``totals(...).summary()``.
    """
    history.check_range(channel, size, start_ms, end_ms)
    with engine.connect() as conn:
        found = _summaries(conn, channel, size, start_ms, end_ms)
        span, standing = _cover(conn, channel, size, start_ms, end_ms, found)
        counts: dict[str, float] = {}
        get = counts.get  # ~20,000 calls for a year of hours of traffic
        for piece in _pieces(found, span, standing):
            for name, value in piece.counts.items():
                counts[name] = get(name, 0) + value
        rows = [(start, row.numbers()) for start, row in found]
        if not any(row.sketches for _, row in found):
            return rows, dict(counts)
        sketches = merged(_sketches(conn, channel, size, span, standing, found))
    return rows, Tally(counts, sketches.uniques, sketches.quantiles).summary()


def _summaries(
    conn: sa.Connection, channel: str, size: str, start_ms: int, end_ms: int
) -> list[tuple[int, Summary]]:
    """The summaries of ``size`` in the range, oldest first."""
    query = (
        sa.select(SUMMARIES.c.start, SUMMARIES.c.summary, SUMMARIES.c.built_from)
        .where(within(SUMMARIES, channel, size, start_ms, end_ms))
        .order_by(SUMMARIES.c.start)
    )
    return [(start, loads(text, built_from)) for start, text, built_from in conn.execute(query)]


def _cover(
    conn: sa.Connection,
    channel: str,
    size: str,
    start_ms: int,
    end_ms: int,
    found: list[tuple[int, Summary]],
) -> tuple[int, dict[int, Summary]]:
    """The coarser windows' span, and the summaries of those that stand for ``found``'s in them."""
    coarse = COARSER.get(size)
    if coarse is None:
        return SPAN_MS[size], {}
    span = SPAN_MS[coarse]
    below: dict[int, int] = {}  # coarse window: history rows of ``size`` in it
    for start, row in found:
        rows = row.built_from if size == "minute" else 1  # a minute: one row per part
        below[start - start % span] = below.get(start - start % span, 0) + rows
    inside = [w for w in below if w >= start_ms and w + span <= end_ms]
    if not inside:
        return span, {}
    # A coarse row stands for the windows below it only while all of them are there:
    # retention deletes old hours but keeps their day.
    return span, {
        w: row
        for w, row in _summaries(conn, channel, coarse, min(inside), max(inside) + span)
        if row.built_from == below.get(w)  # all in the range: between two that are
    }


def _pieces(
    found: Iterable[tuple[int, Summary]], span: int, standing: dict[int, Summary]
) -> Iterator[Summary]:
    """The range as summaries, oldest first: a standing coarse window once, else each window."""
    last = None
    for start, row in found:
        window = start - start % span
        if window not in standing:
            yield row
        elif window != last:
            last = window
            yield standing[window]


def _sketches(
    conn: sa.Connection,
    channel: str,
    size: str,
    span: int,
    standing: dict[int, Summary],
    found: list[tuple[int, Summary]],
) -> Iterator[Tally]:
    """Tallies whose merge holds the range's sketches: coarse rows inside, windows around them."""
    if standing:
        yield from _tallies(conn, channel, COARSER[size], min(standing), max(standing) + span,
                            keep=standing.__contains__)  # fmt: skip
    # The windows no coarse row stands for, a stretch of neighbours per query.
    position = {start: i for i, (start, _) in enumerate(found)}
    stretches: list[list[int]] = []
    for start, _ in found:
        if start - start % span in standing:
            continue
        if stretches and position[start] == position[stretches[-1][-1]] + 1:
            stretches[-1].append(start)
        else:
            stretches.append([start])
    for stretch in stretches:
        yield from _tallies(conn, channel, size, stretch[0], stretch[-1] + 1)


def _tallies(
    conn: sa.Connection,
    channel: str,
    size: str,
    first: int,
    end: int,
    keep: Callable[[int], bool] | None = None,
) -> Iterator[Tally]:
    """Decoded tallies of ``size`` with start in [first, end), one at a time."""
    query = sa.select(HISTORY.c.start, HISTORY.c.tally).where(
        within(HISTORY, channel, size, first, end)
    )
    for start, blob in conn.execute(query):
        if keep is None or keep(start):
            yield history.decode(blob)

"""History summaries: the numbers of every history row, beside it, so charts decode no sketch.

Creates ``history_summary`` and fills it from the rows already stored (each tally is decoded
once, here, in batches along the primary key; a minute's parts are neighbours in it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op

from stream.sketches.tally import Tally, merged
from stream.store import history, summary

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500  # rows decoded per round trip: an hour of traffic is ~35 KB of tally
HISTORY = sa.table(
    "history",
    sa.column("channel", sa.Text),
    sa.column("size", sa.Text),
    sa.column("start", sa.BigInteger),
    sa.column("part", sa.Integer),
    sa.column("tally", sa.LargeBinary),
)
SPAN_ABOVE = {"minute": history.HOUR_MS, "hour": history.DAY_MS}  # a row size: the one above


def upgrade() -> None:
    """Create the summary table and summarise every window there is."""
    op.create_table(
        "history_summary",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("size", sa.Text(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("built_from", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "size", "start", name="history_summary_pkey"),
    )
    conn = op.get_bind()
    built_from = _rows_below(conn)
    window: tuple[str, str, int] | None = None
    parts: list[Tally] = []
    for batch in _batches(conn):
        summaries = []
        for channel, size, start, blob in batch:
            if (channel, size, start) != window and window is not None:
                summaries.append(_summary(window, parts, built_from))
                parts = []
            window = channel, size, start
            parts.append(history.decode(blob))
        summary.upsert(conn, summaries)
    if window is not None:  # the last window: no row after it closed it
        summary.upsert(conn, [_summary(window, parts, built_from)])


def _batches(conn: sa.Connection) -> Iterator[list[tuple[str, str, int, bytes]]]:
    """Every history row (channel, size, start, tally), in primary-key order, a batch at a time."""
    key = sa.tuple_(HISTORY.c.channel, HISTORY.c.size, HISTORY.c.start, HISTORY.c.part)
    after: Sequence[object] | None = None
    while True:
        query = sa.select(*key.clauses, HISTORY.c.tally).order_by(*key.clauses).limit(BATCH)
        if after is not None:
            query = query.where(key > sa.tuple_(*after))
        found = conn.execute(query).all()
        if not found:
            return
        yield [(row[0], row[1], row[2], row[4]) for row in found]
        after = found[-1][:4]


def _summary(
    window: tuple[str, str, int], parts: list[Tally], built_from: dict[tuple[str, str, int], int]
) -> tuple[str, str, int, summary.Summary]:
    """A window's summary: a minute's of its parts merged, an hour's or day's of its one row."""
    below = len(parts) if window[1] == "minute" else built_from.get(window, 0)
    return (*window, summary.of(merged(parts), below))


def _rows_below(conn: sa.Connection) -> dict[tuple[str, str, int], int]:
    """How many rows below each hour and day row of (channel, size, start) there are now.

    Those the roll-up merged, unless retention deleted some since (the window that held the
    retention edge then stands for a little more than is left below it); a window with none
    below is left out, read as 0 (a reader never uses such a row for the rows below).
    """
    out: dict[tuple[str, str, int], int] = {}
    above = {"minute": "hour", "hour": "day"}
    for below, span in SPAN_ABOVE.items():
        window = HISTORY.c.start - HISTORY.c.start % span
        query = (
            sa.select(HISTORY.c.channel, window, sa.func.count())
            .where(HISTORY.c.size == below)
            .group_by(HISTORY.c.channel, window)
        )
        for channel, start, n in conn.execute(query):
            out[channel, above[below], int(start)] = n
    return out


def downgrade() -> None:
    """Drop the summaries (the tallies they came from stay)."""
    op.drop_table("history_summary")

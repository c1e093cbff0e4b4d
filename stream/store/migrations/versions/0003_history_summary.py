"""History summaries: the numbers of every history row, beside it, so charts decode no sketch.

Creates ``history_summary`` and fills it from the rows already stored (each tally is decoded
once, here, in batches along the primary key).

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from stream.store import history, summary

revision: str = "0003"
down_revision: str | None = "0001"
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
    """Create the summary table and summarise every row there is."""
    op.create_table(
        "history_summary",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("size", sa.Text(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("built_from", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "size", "start", "part", name="history_summary_pkey"),
    )
    conn = op.get_bind()
    built_from = _rows_below(conn)
    key = sa.tuple_(HISTORY.c.channel, HISTORY.c.size, HISTORY.c.start, HISTORY.c.part)
    after: Sequence[object] | None = None
    while True:
        query = sa.select(HISTORY).order_by(*key.clauses).limit(BATCH)
        if after is not None:
            query = query.where(key > sa.tuple_(*after))
        found = conn.execute(query).all()
        if not found:
            return
        records = []
        for channel, size, start, part, blob in found:
            below = built_from.get((channel, size, start), int(size == "minute"))
            row = summary.of(history.decode(blob), below)
            records.append(summary.record(channel, size, start, part, row))
        conn.execute(sa.insert(summary.SUMMARIES), records)
        after = found[-1][:4]


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

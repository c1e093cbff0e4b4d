"""Content publications: which revision of each item was live, from when until when.

Creates ``content_publications`` (stream/content/publications.py describes it) and opens one
stretch per item live now, from its ``published_ms`` (an item live since before this log
began has no older stretches: what was live before then is not known).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEMS = sa.table(
    "content_items",
    sa.column("id", sa.Text),
    sa.column("live_revision", sa.Integer),
    sa.column("created_ms", sa.BigInteger),
    sa.column("published_ms", sa.BigInteger),
)


def upgrade() -> None:
    """Create the log and back-fill the items live now."""
    table = op.create_table(
        "content_publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("live_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("live_until_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="content_publications_pkey"),
    )
    # Writes find an item's open stretch; reads take a range by either end.
    op.create_index("content_publications_item", "content_publications", ["item_id"])
    op.create_index("content_publications_from", "content_publications", ["live_from_ms"])
    op.create_index("content_publications_until", "content_publications", ["live_until_ms"])
    live = sa.select(
        ITEMS.c.id,
        ITEMS.c.live_revision,
        sa.func.coalesce(ITEMS.c.published_ms, ITEMS.c.created_ms),
    ).where(ITEMS.c.live_revision.is_not(None))
    op.get_bind().execute(
        sa.insert(table).from_select(["item_id", "revision", "live_from_ms"], live)
    )


def downgrade() -> None:
    """Drop the log (the items keep their live revision)."""
    op.drop_index("content_publications_until", "content_publications")
    op.drop_index("content_publications_from", "content_publications")
    op.drop_index("content_publications_item", "content_publications")
    op.drop_table("content_publications")

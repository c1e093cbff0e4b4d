"""Content: items, their revisions (full snapshots) and scheduled publish/unpublish.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the three content tables (stream/content/tables.py describes them)."""
    op.create_table(
        "content_items",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("live_revision", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("published_ms", sa.BigInteger(), nullable=True),
        sa.Column("unpublished_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="content_items_pkey"),
    )
    # Delivery lists one type's live items.
    op.create_index("content_items_type", "content_items", ["type", "live_revision"])
    op.create_table(
        "content_revisions",
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "number", name="content_revisions_pkey"),
    )
    op.create_table(
        "content_schedules",
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("item_id", "action", name="content_schedules_pkey"),
    )
    op.create_index("content_schedules_at", "content_schedules", ["at_ms"])


def downgrade() -> None:
    """Drop the content tables."""
    op.drop_table("content_schedules")
    op.drop_table("content_revisions")
    op.drop_index("content_items_type", "content_items")
    op.drop_table("content_items")

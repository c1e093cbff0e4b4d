"""The content tables, as migration 0002 creates them.

``content_items`` holds one row per item: its newest revision, the live one (None: not
published) and when it was last unpublished. ``content_revisions`` holds every kept
revision as a full JSON snapshot. ``content_schedules`` holds at most one pending publish
and one pending unpublish per item.
"""

from __future__ import annotations

import sqlalchemy as sa

METADATA = sa.MetaData()
ITEMS = sa.Table(
    "content_items",
    METADATA,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("live_revision", sa.Integer, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("published_ms", sa.BigInteger, nullable=True),
    sa.Column("unpublished_ms", sa.BigInteger, nullable=True),
)
REVISIONS = sa.Table(
    "content_revisions",
    METADATA,
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("fields", sa.Text, nullable=False),  # JSON object
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)
SCHEDULES = sa.Table(
    "content_schedules",
    METADATA,
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("action", sa.Text, primary_key=True),  # publish | unpublish
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("revision", sa.Integer, nullable=True),  # publish: None = the newest at that time
)

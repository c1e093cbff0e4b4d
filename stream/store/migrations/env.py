"""Alembic's entry point, run by stream/store/migrate.py with a live connection.

Migrations are written by hand (no autogenerate): a script says exactly what changes, and
the schema modules (history.py, ...) describe the head the scripts arrive at.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    # SQLite alters tables by copying them; batch mode lets one script serve both engines.
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()

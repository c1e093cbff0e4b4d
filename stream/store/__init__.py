"""The SQL store: what the stream computed, kept per concept in one database.

Contract:
- ``open_store(settings)`` returns a SQLAlchemy ``Engine`` on ``DOJO_DATABASE_URL``
  (default: SQLite at ``<DOJO_DATA_DIR>/pulse.db``), migrated to this release's head by
  Alembic. A store migrated by a newer release raises ``StoreVersionError``; one that
  cannot be reached raises ``StoreError``; both are one line without the URL's password.
- One schema module per concept: ``history`` (minute/hour/day tallies per channel);
  later issues add their own beside it, each with its migration in ``migrations/versions``.
- Calls are synchronous (SQLAlchemy 2 Core); async callers use ``asyncio.to_thread``.
- The store holds aggregates only: never a visitor or session id.
- Importing this package connects to nothing.
"""

from __future__ import annotations

from stream.store.engine import database_url, open_store
from stream.store.errors import StoreError, StoreVersionError

__all__ = ["StoreError", "StoreVersionError", "database_url", "open_store"]

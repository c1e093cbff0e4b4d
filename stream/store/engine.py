"""Where the store lives and how it is opened: SQLite by default, PostgreSQL by URL.

``DOJO_DATABASE_URL`` empty means one SQLite file, ``<DOJO_DATA_DIR>/pulse.db``: nothing to
install. Opening migrates the store to this release's schema (``migrate``).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from stream.settings import Settings
from stream.store import migrate
from stream.store.dialects import create_engine, public_url
from stream.store.errors import StoreError


def database_url(settings: Settings) -> str:
    """The store's SQLAlchemy URL (may hold a password: never print it, see ``public_url``)."""
    url = settings.database_url.reveal()
    return url or f"sqlite:///{settings.data_dir / 'pulse.db'}"


def open_store(settings: Settings, *, upgrade: bool = True) -> sa.Engine:
    """The store of ``settings``, migrated to this release's head unless ``upgrade`` is False.

    Raises ``StoreVersionError`` for a store a newer release migrated and ``StoreError`` for
    one that cannot be reached, each as one line without the URL's password.
    """
    engine = create_engine(database_url(settings))
    if engine.dialect.name == "sqlite" and engine.url.database:
        Path(engine.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        if upgrade:
            migrate.upgrade(engine)
        else:
            migrate.check(engine)
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise StoreError(f"cannot open the store at {public_url(engine)}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    return engine

"""Where the store lives and how it is opened: SQLite by default, PostgreSQL by URL.

``DOJO_DATABASE_URL`` empty means one SQLite file, ``<DOJO_DATA_DIR>/pulse.db``: nothing to
install. ``postgresql://`` URLs are served by psycopg 3 whatever driver they name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import ArgumentError, DBAPIError

from stream.settings import Settings
from stream.store import migrate
from stream.store.errors import StoreError

BUSY_TIMEOUT_S = 30.0  # a SQLite writer waits this long for another one's transaction
_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}


def database_url(settings: Settings) -> str:
    """The store's SQLAlchemy URL (may hold a password: never print it, see ``public_url``)."""
    url = settings.database_url.reveal()
    return url or f"sqlite:///{settings.data_dir / 'pulse.db'}"


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``; ``StoreError`` for a URL or engine the store does not serve."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        raise StoreError("DOJO_DATABASE_URL is not a database URL") from None
    scheme = parsed.drivername.split("+")[0]
    if scheme not in _SCHEMES:
        raise StoreError(f"the store runs on SQLite or PostgreSQL, not {scheme[:40]!r}")
    parsed = parsed.set(drivername=_SCHEMES[scheme])
    if scheme != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if not parsed.database or parsed.database == ":memory:":
        raise StoreError("a SQLite store is a file: sqlite:///<path>")
    engine = sa.create_engine(
        parsed, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )
    # pysqlite opens transactions late and never for DDL; SQLAlchemy's recipe hands
    # transactions back to SQLAlchemy so a migration or a write is one real transaction.
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: the live feed reads while the historian writes; NORMAL is durable in WAL mode
    # except for the last transactions at a power cut, which the historian replays.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")


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
        raise StoreError(
            f"cannot open the store at {migrate.public_url(engine)}: {reason}"
        ) from None
    except BaseException:
        engine.dispose()
        raise
    return engine

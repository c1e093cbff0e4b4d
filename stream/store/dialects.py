"""How each database the store runs on is driven: URL schemes, SQLite's locks, upserts.

The store runs on SQLite and PostgreSQL only. ``postgresql://`` URLs are served by
psycopg 3 whatever driver they name. SQLite gets WAL, a busy timeout, and real
transactions (pysqlite's own begin late and never for DDL).
"""

from __future__ import annotations

import sqlite3
import time

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError

from stream.store.errors import StoreError

BUSY_TIMEOUT_S = 30.0  # a SQLite writer waits this long for another one's transaction
LOCKED_RETRY_S = 0.05
_WRITES = "dojo_writes"  # execution option: this transaction writes (see for_writing)
_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}


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


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.isolation_level = None
    # WAL: the live feed reads while the historian writes; NORMAL is durable in WAL mode
    # except for the last transactions at a power cut, which the historian replays.
    # Switching a new file to WAL takes a lock that SQLite does not wait for, so two
    # processes opening a new store at once retry here.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(LOCKED_RETRY_S)
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _sqlite_begin(connection: sa.Connection) -> None:
    writes = connection.get_execution_options().get(_WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def for_writing(engine: sa.Engine) -> sa.Engine:
    """``engine`` whose transactions take SQLite's write lock at BEGIN.

    A transaction that reads before it writes would otherwise find another writer's
    lock when it first writes and fail at once (SQLite cannot wait there without risking a
    deadlock); taking the lock first makes it wait its turn instead.
    """
    return engine.execution_options(**{_WRITES: True})


def public_url(engine: sa.Engine) -> str:
    """The engine's URL with any password masked, fit for messages and logs."""
    return engine.url.render_as_string(hide_password=True)


def insert(dialect: str) -> type[sqlite.Insert] | type[postgresql.Insert]:
    """The INSERT that knows ON CONFLICT on ``dialect`` (both spell it alike)."""
    return postgresql.Insert if dialect == "postgresql" else sqlite.Insert

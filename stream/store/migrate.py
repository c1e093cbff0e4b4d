"""Alembic, driven from code: the store's schema is brought to this release's head.

No alembic.ini is needed at run time: the configuration is built here and the open
connection handed to ``migrations/env.py``. A store whose revision this release does not
know was migrated by a newer release; it is refused rather than guessed at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

from stream.store.dialects import create_engine, for_writing, public_url
from stream.store.errors import StoreVersionError

SCRIPTS = Path(__file__).parent / "migrations"
# Alembic's ``context`` and ``op`` are module globals: one migration at a time per process.
_ONE_AT_A_TIME = threading.Lock()


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision this release's migrations end at."""
    revision = _scripts().get_current_head()
    assert revision is not None, "no migration scripts"  # shipped with the package
    return revision


def known() -> list[str]:
    """Every revision this release knows, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


@contextmanager
def _engine_of(engine_or_url: sa.Engine | str) -> Iterator[sa.Engine]:
    if isinstance(engine_or_url, sa.Engine):
        yield engine_or_url
        return
    engine = create_engine(engine_or_url)
    try:
        yield engine
    finally:
        engine.dispose()


def current(engine_or_url: sa.Engine | str) -> str | None:
    """The store's revision, or None for an empty store."""
    with _engine_of(engine_or_url) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check(engine: sa.Engine) -> str | None:
    """The store's revision; ``StoreVersionError`` if a newer release migrated it."""
    revision = current(engine)
    if revision is not None and revision not in known():
        raise StoreVersionError(
            f"the store at {public_url(engine)} is at revision {revision}, newer than this "
            f"release (head {head()}): upgrade Dojo Pulse"
        )
    return revision


def upgrade(engine_or_url: sa.Engine | str) -> str:
    """Migrate the store to ``head()`` (a no-op when it is there); return the revision."""
    with _engine_of(engine_or_url) as engine:
        if check(engine) == head():
            return head()
        try:
            with _ONE_AT_A_TIME, for_writing(engine).begin() as connection:
                command.upgrade(_config(connection), "head")
        except DBAPIError:
            # Two processes starting on an empty store at once: one migrates, the other's
            # transaction fails on the tables the first created. That is only fine if done.
            if current(engine) != head():
                raise
        return head()

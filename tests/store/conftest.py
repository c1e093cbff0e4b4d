"""The store's fixtures: every store test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from infra import postgres
from infra.errors import InfraError
from stream.settings import Secret, Settings
from stream.store import open_store


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Postgres]:
    """One private PostgreSQL for the session (fails loudly if it cannot start)."""
    # Not pytest's tmp_path: that lies under a directory only root may enter, and the
    # server runs as the postgres user when the suite runs as root.
    home = Path(tempfile.mkdtemp(prefix="dojo-pg-"))
    try:
        server = postgres.start(home, config=postgres.FAST)
    except InfraError as exc:
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"the store tests need PostgreSQL: {exc}")
    yield server
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store: a SQLite file, or a fresh database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pulse.db'}"
        return
    server: postgres.Postgres = request.getfixturevalue("postgres_server")
    name = f"t{uuid.uuid4().hex}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def store_settings(store_url: str, tmp_path: Path) -> Settings:
    """Settings whose store is ``store_url``."""
    return Settings(database_url=Secret(store_url), data_dir=tmp_path / "data")


@pytest.fixture
def store(store_settings: Settings) -> Iterator[sa.Engine]:
    """The store of ``store_url``, migrated to head."""
    engine = open_store(store_settings)
    yield engine
    engine.dispose()

"""The SQL store into a backup and back: SQLite's online backup API, PostgreSQL's pg_dump.

SQLite: ``sqlite3.Connection.backup`` copies a consistent image while the historian and
the live feed keep working; the copy is then streamed into the backup file. PostgreSQL:
``pg_dump`` (plain SQL, one snapshot) is piped into it, and ``psql`` reads it back in one
transaction. The URL's password reaches the tools through ``PGPASSWORD``, never argv.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from infra import postgres
from stream.backup.container import CHUNK, ContainerReader, ContainerWriter
from stream.backup.meter import Tick
from stream.settings import Settings
from stream.store import database_url, migrate
from stream.store.dialects import create_engine

PAGES_PER_STEP = 4096  # SQLite pages copied per step; writers get the lock between steps


class StoreCopyError(RuntimeError):
    """The store could not be read or written back (the tool's last line says why)."""


def dialect(settings: Settings) -> str:
    return sa.make_url(database_url(settings)).get_backend_name()


def sqlite_path(settings: Settings) -> Path:
    return Path(sa.make_url(database_url(settings)).database or "").expanduser()


def present(settings: Settings) -> bool:
    """Whether the store exists at all (a SQLite file may not yet)."""
    return dialect(settings) != "sqlite" or sqlite_path(settings).exists()


def _counts(connection: sa.Connection) -> dict[str, int]:
    names = sorted(sa.inspect(connection).get_table_names())
    count = sa.select(sa.func.count())
    return {n: int(connection.execute(count.select_from(sa.table(n))).scalar_one()) for n in names}


def tables(settings: Settings) -> dict[str, int]:
    """Every table of the store with its row count (empty when there is no store)."""
    if not present(settings):
        return {}
    engine = create_engine(database_url(settings))
    try:
        with engine.connect() as connection:
            return _counts(connection)
    finally:
        engine.dispose()


def revision(settings: Settings) -> str | None:
    return migrate.current(database_url(settings)) if present(settings) else None


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    url = sa.make_url(database_url(settings))
    env = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else dict(os.environ)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def dump(settings: Settings, out: ContainerWriter, scratch: Path, tick: Tick) -> dict[str, int]:
    """Write a consistent image of the store into ``out``; its tables' row counts."""
    if dialect(settings) == "sqlite":
        return _dump_sqlite(settings, out, scratch, tick)
    # The counts and the dump see one snapshot: the transaction that counts exports it.
    engine = create_engine(database_url(settings))
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _counts(connection)
            uri, env = _libpq(settings)
            argv = [str(postgres.bin_dir() / "pg_dump"), "--no-owner", "--no-privileges",
                    f"--snapshot={snapshot}", "-d", uri]  # fmt: skip
            _pipe_out(argv, env, out.write, tick)
            connection.rollback()
    finally:
        engine.dispose()
    return counts


def _dump_sqlite(
    settings: Settings, out: ContainerWriter, scratch: Path, tick: Tick
) -> dict[str, int]:
    copy = scratch / "store.sqlite.tmp"
    source = sqlite3.connect(f"file:{sqlite_path(settings)}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target, pages=PAGES_PER_STEP)
    except sqlite3.Error as exc:
        raise StoreCopyError(f"the SQLite store could not be copied: {exc}") from None
    finally:
        target.close()
        source.close()
    engine = create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as connection:
            counts = _counts(connection)
    finally:
        engine.dispose()
    with copy.open("rb") as image:
        while block := image.read(CHUNK):
            out.write(block)
            tick(len(block))
    copy.unlink()
    return counts


def _pipe_out(
    argv: list[str], env: dict[str, str], write: Callable[[bytes], None], tick: Tick
) -> None:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    while block := proc.stdout.read(CHUNK):
        write(block)
        tick(len(block))
    error = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.wait() != 0:
        last = error.splitlines()[-1] if error else f"exit {proc.returncode}"
        raise StoreCopyError(f"{Path(argv[0]).name} failed: {last}")


def load(settings: Settings, source: ContainerReader, kind: str) -> None:
    """Put the image back as the store (an existing one is replaced: the caller checked)."""
    if kind != dialect(settings):
        raise StoreCopyError(f"the backup holds a {kind} store; DOJO_DATABASE_URL is not {kind}")
    if kind == "sqlite":
        path = sqlite_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".restoring")
        with temporary.open("wb") as image:
            while block := source.read(CHUNK):
                image.write(block)
            image.flush()
            os.fsync(image.fileno())
        for stale in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)  # they belong to the store being replaced
        temporary.replace(path)
        return
    engine = create_engine(database_url(settings))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    uri, env = _libpq(settings)
    argv = [str(postgres.bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "--single-transaction", "-d", uri, "-o", os.devnull]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        while block := source.read(CHUNK):
            proc.stdin.write(block)
    except BrokenPipeError:
        pass  # psql stopped at an error: its stderr says which
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    error = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.wait() != 0:
        raise StoreCopyError(f"psql failed: {error.splitlines()[-1] if error else 'no reason'}")

"""Migrations on both engines: from empty, from the previous revision, and a too-new store."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from infra.process import free_port
from stream.settings import Secret, Settings
from stream.sketches.tally import merged
from stream.store import StoreError, StoreVersionError, history, migrate, open_store
from stream.store.dialects import create_engine
from stream.store.history import DAY_MS, HOUR_MS
from stream.store.ranges import summarized
from stream.store.summary import SUMMARIES
from tests.store.minutes import DAY0, random_minutes

PASSWORD = "pw-never-shown-9f3c"
ROOT = Path(__file__).parents[2]


def dojo_pulse(settings: Settings, *args: str) -> tuple[int, list[str]]:
    """Exit code and output lines of the real ``dojo-pulse`` command."""
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "dojo_pulse.cli", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).splitlines()


def with_password(url: str) -> str:
    """``url`` with a password (the test server trusts loopback, so it is ignored)."""
    if url.startswith("sqlite"):
        return url
    return sa.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def test_upgrade_from_empty(store_settings: Settings) -> None:
    engine = open_store(store_settings, upgrade=False)
    assert migrate.current(engine) is None
    assert not sa.inspect(engine).has_table("history")
    assert migrate.upgrade(engine) == migrate.head() == migrate.current(engine)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("history")}
    assert columns == {"channel", "size", "start", "part", "tally", "updated_ms"}
    assert sa.inspect(engine).get_pk_constraint("history")["constrained_columns"] == [
        "channel", "size", "start", "part",
    ]  # fmt: skip
    assert sa.inspect(engine).has_table("alembic_version")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("history_summary")}
    assert columns == {"channel", "size", "start", "summary", "built_from"}
    engine.dispose()


def written_before_summaries(engine: sa.Engine, rows: list[history.MinuteRow]) -> None:
    """``rows`` and their roll-ups as the release before summaries wrote them: tallies only."""
    records, hours, days = [], {}, {}
    for row in rows:
        hour = row.start - row.start % HOUR_MS
        hours.setdefault(hour, []).append(row.tally)
        records.append(("minute", row.start, row.part, row.tally))
    for hour, tallies in hours.items():
        days.setdefault(hour - hour % DAY_MS, []).append(merged(tallies))
        records.append(("hour", hour, history.WHOLE, merged(tallies)))
    records += [("day", day, history.WHOLE, merged(tallies)) for day, tallies in days.items()]
    with engine.begin() as conn:
        conn.execute(sa.insert(history.HISTORY), [
            {"channel": "traffic", "size": size, "start": start, "part": part,
             "tally": history.encode(tally), "updated_ms": 0}
            for size, start, part, tally in records
        ])  # fmt: skip


def test_upgrade_from_the_previous_revision_keeps_the_data(store_url: str) -> None:
    revisions = migrate.known()
    previous = revisions[-2] if len(revisions) > 1 else revisions[-1]
    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), previous)
    assert migrate.current(engine) == previous
    rows, _ = random_minutes(random.Random(5), "traffic", DAY0 + 22 * HOUR_MS, 180)
    written_before_summaries(engine, rows)
    before = {
        size: [(s, t.summary()) for s, t in history.read(engine, "traffic", size, 0, 2 * DAY0)]
        for size in history.SIZES
    }
    for _ in range(2):  # and again: at head, an upgrade is a no-op
        assert migrate.upgrade(engine) == migrate.head()
    for size in history.SIZES:
        after = history.read(engine, "traffic", size, 0, 2 * DAY0)
        assert [(s, t.summary()) for s, t in after] == before[size]
        # The upgrade summarised every row: a range reads the same from the summaries.
        assert summarized(engine, "traffic", size, 0, 2 * DAY0) == (
            before[size],
            history.totals(after).summary(),
        )
    with engine.connect() as conn:
        built = {(size, start): n for size, start, n in conn.execute(sa.select(
            SUMMARIES.c.size, SUMMARIES.c.start, SUMMARIES.c.built_from
        ))}  # fmt: skip
    parts_per_minute = Counter(("minute", r.start) for r in rows)
    minutes_per_hour = Counter(("hour", r.start - r.start % HOUR_MS) for r in rows)
    assert len(minutes_per_hour) == 3 and max(parts_per_minute.values()) == 3
    # Day 0 holds hours 22 and 23, day 1 hour 0.
    assert built == {
        **parts_per_minute,
        **minutes_per_hour,
        ("day", DAY0): 2,
        ("day", DAY0 + DAY_MS): 1,
    }
    engine.dispose()


def test_processes_migrating_an_empty_store_at_once_all_succeed(store_url: str) -> None:
    # The worker and each live feed migrate at start-up: on a fresh store they may race.
    code = f"from stream.store import migrate; print(migrate.upgrade({store_url!r}))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [racer.communicate(timeout=120)[0] for racer in racers]
    assert [r.returncode for r in racers] == [0] * 4, outputs
    assert [o.strip() for o in outputs] == [migrate.head()] * 4
    assert migrate.current(store_url) == migrate.head()


def test_threads_migrating_at_once_all_succeed(store_url: str) -> None:
    engines = [create_engine(store_url) for _ in range(3)]
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda e=e: results.append(migrate.upgrade(e))) for e in engines
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [migrate.head()] * 3
    for engine in engines:
        engine.dispose()


def test_a_store_of_a_newer_release_is_refused_in_one_line(store_settings: Settings) -> None:
    settings = replace(
        store_settings, database_url=Secret(with_password(store_settings.database_url.reveal()))
    )
    engine = open_store(settings)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for upgrade in (True, False):
        with pytest.raises(StoreVersionError) as caught:
            open_store(settings, upgrade=upgrade)
        message = str(caught.value)
        assert (
            f"revision 9999, newer than this release (head {migrate.head()}): upgrade Dojo Pulse"
            in message
        )
        assert "\n" not in message and PASSWORD not in message
    for command_name in ("upgrade", "current"):
        code, lines = dojo_pulse(settings, "db", command_name)
        assert code == 1 and len(lines) == 1, lines
        assert lines[0].startswith("Error: the store at ") and "9999" in lines[0]
        assert PASSWORD not in lines[0]


def test_db_commands_print_the_revision(store_settings: Settings) -> None:
    assert dojo_pulse(store_settings, "db", "current") == (0, ["empty"])
    assert dojo_pulse(store_settings, "db", "upgrade") == (0, [migrate.head()])
    assert dojo_pulse(store_settings, "db", "upgrade") == (0, [migrate.head()])
    assert dojo_pulse(store_settings, "db", "current") == (0, [migrate.head()])
    code, lines = dojo_pulse(store_settings, "db", "--help")
    assert code == 0 and any("DOJO_DATABASE_URL" in line for line in lines)


def test_default_store_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "deep" / "data")
    engine = open_store(settings)
    assert engine.dialect.name == "sqlite"
    assert (tmp_path / "deep" / "data" / "pulse.db").is_file()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_an_unreachable_or_unknown_store_is_one_line_without_the_password(tmp_path: Path) -> None:
    nobody = f"postgresql://dojo:{PASSWORD}@127.0.0.1:{free_port()}/pulse"
    for url, expected in (
        (nobody, "cannot open the store at postgresql+psycopg://dojo:***@127.0.0.1:"),
        (f"mysql://dojo:{PASSWORD}@127.0.0.1/pulse", "runs on SQLite or PostgreSQL, not 'mysql'"),
        ("sqlite://", "a SQLite store is a file"),
        ("not a url", "is not a database URL"),
    ):
        settings = Settings(database_url=Secret(url), data_dir=tmp_path)
        with pytest.raises(StoreError) as caught:
            open_store(settings)
        assert expected in str(caught.value)
        assert PASSWORD not in str(caught.value) and "\n" not in str(caught.value)
    code, lines = dojo_pulse(
        Settings(database_url=Secret(nobody), data_dir=tmp_path), "db", "upgrade"
    )
    assert code == 1 and len(lines) == 1 and PASSWORD not in lines[0]


def test_the_database_url_never_shows_in_the_settings() -> None:
    url = f"postgresql://dojo:{PASSWORD}@db.example/pulse"
    settings = Settings.from_env({"DOJO_DATABASE_URL": url, "DOJO_HISTORY_DAYS_DAYS": "3650"})
    assert settings.database_url.reveal() == url and settings.history_days_days == 3650
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert Settings.from_env(settings.to_env()) == settings

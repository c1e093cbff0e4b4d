"""The store into a backup file and back, on SQLite and PostgreSQL: the same rows, exactly."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from stream.backup import store_copy
from stream.backup.container import ContainerReader, ContainerWriter
from stream.settings import Settings
from stream.store import history
from tests.store.minutes import DAY0, random_minutes

NOW = DAY0 + 3_600_000


def rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {n: sorted(tuple(r) for r in connection.execute(sa.text(f"SELECT * FROM {n}")))
                for n in names}  # fmt: skip


def test_a_dumped_store_loads_back_over_a_changed_one(
    store: sa.Engine, store_settings: Settings, tmp_path: Path
) -> None:
    written, _ = random_minutes(random.Random(3), "traffic", DAY0, 30)
    history.write_minutes(store, written, now_ms=NOW)
    before = rows(store)
    assert len(before["history"]) > 30

    out = ContainerWriter(tmp_path / "store.zst", "b1")
    ticks: list[int] = []
    counts = store_copy.dump(store_settings, out, tmp_path, ticks.append)
    out.close()
    assert counts == {name: len(table) for name, table in before.items()}
    assert sum(ticks) > 0 and not list(tmp_path.glob("*.tmp"))  # the SQLite copy is gone

    more, _ = random_minutes(random.Random(4), "forms", DAY0, 10)
    history.write_minutes(store, more, now_ms=NOW)
    assert rows(store) != before
    store.dispose()  # a restore runs with the stack stopped
    with ContainerReader(tmp_path / "store.zst", "b1") as source:
        store_copy.load(store_settings, source, store_copy.dialect(store_settings))
    assert rows(store) == before
    assert store_copy.tables(store_settings) == counts


def test_a_store_of_another_engine_is_refused(
    store_settings: Settings, store: sa.Engine, tmp_path: Path
) -> None:
    other = "postgresql" if store_copy.dialect(store_settings) == "sqlite" else "sqlite"
    (tmp_path / "x.zst").write_bytes(b"")
    out = ContainerWriter(tmp_path / "x.zst", "b1")
    out.write(b"anything")
    out.close()
    with (
        ContainerReader(tmp_path / "x.zst", "b1") as source,
        pytest.raises(store_copy.StoreCopyError, match=f"holds a {other} store"),
    ):
        store_copy.load(store_settings, source, other)
    assert rows(store)["history"] == []  # untouched

"""The store holds aggregates only: no visitor or session id in any stored byte."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import sqlalchemy as sa

from stream.sketches import codec
from stream.store import history
from stream.store.history import DAY_MS, HISTORY, MINUTE_MS, MinuteRow
from stream.store.summary import SUMMARIES
from tests.store.minutes import DAY0, tally, visitor_id


def write_people(store: sa.Engine) -> tuple[list[str], int]:
    """Two hours of minutes tallied from visitor and session ids; the ids, visitors seen."""
    rng = random.Random(5)
    visitors = [visitor_id(rng) for _ in range(300)]
    sessions = [f"s-{rng.getrandbits(64):016x}" for _ in range(300)]
    rows, met = [], set()
    for m in range(120):
        for part in range(2):
            seen = rng.sample(range(300), 12)
            met.update(seen)
            minute = tally(12, [visitors[i] for i in seen])
            minute.uniques["sessions"] = tally(0, [sessions[i] for i in seen]).uniques["visitors"]
            rows.append(MinuteRow("traffic", DAY0 + m * MINUTE_MS, part, minute))
    history.write_minutes(store, rows, now_ms=DAY0 + DAY_MS)
    return visitors + sessions, len(met)


def test_no_stored_tally_holds_an_id(store: sa.Engine) -> None:
    ids, met = write_people(store)
    with store.connect() as conn:
        blobs = list(conn.scalars(sa.select(HISTORY.c.tally)))
    assert len(blobs) == 240 + 2 + 1
    for blob in blobs:
        # Tallies are compressed: look inside, where a careless writer would put an id.
        text = zlib.decompress(blob[len(codec.MAGIC) :]).decode()
        assert [i for i in ids if i in text] == []
    [(_, day)] = history.read(store, "traffic", "day", 0, DAY0 + DAY_MS)
    assert day.summary()["visitors"] == day.summary()["sessions"] == met  # counted all the same
    with store.connect() as conn:
        texts = list(conn.scalars(sa.select(SUMMARIES.c.summary)))
    assert len(texts) == 120 + 2 + 1  # a summary per window: minutes, hours, the day
    assert [i for i in ids if any(i in text for text in texts)] == []


def test_the_sqlite_file_holds_no_id(tmp_path: Path) -> None:
    from stream.store.dialects import create_engine
    from stream.store.migrate import upgrade

    path = tmp_path / "pulse.db"
    store = create_engine(f"sqlite:///{path}")
    upgrade(store)
    ids, _ = write_people(store)
    with store.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("pulse.db")]
    data = b"".join(p.read_bytes() for p in files)
    assert len(data) > 100_000  # the rows are there
    for encoding in ("utf-8", "utf-16-le"):
        assert [i for i in ids if i.encode(encoding) in data] == []

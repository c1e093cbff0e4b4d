"""Historian CPU per minute of traffic: decode, batch and write each closed minute's records.

Run: ``.venv/bin/python -m bench.historian [--rate 20] [--runs 3] [--postgres]``.
The benchmark's simulated traffic (``bench.load``: ten minutes of it at ``--rate`` events
per second, ``make run``'s default 20, validated as the validate stage does) is folded by
the metric states, one per partition as the worker keeps them; every closed minute's tally
becomes the ``history.minutes`` record the aggregator sends, and those minutes are repeated
to fill an hour (an hour's late minutes cost more: their hour is merged from more rows).
The historian's own steps then run minute by minute as in steady state (every channel's
parts in, one write per minute: ``write_minutes`` upserts the minutes and
recomputes their hour and day) into a fresh store, and the process CPU per minute of
traffic is reported, with a backlog (the whole hour at once) beside it.
Figures go to ``bench/results/historian.md``; ``python -m bench --only historian`` runs it too.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson
import sqlalchemy

from bench import report
from bench.learning_apply import clean_batches
from bench.load import SPAN_S
from bench.report import Row
from stream.history.batch import Batch
from stream.history.records import decode
from stream.metrics.forms import FormsState
from stream.metrics.funnel_config import load_funnels
from stream.metrics.funnels import FunnelsState
from stream.metrics.heatmaps import HeatmapsState
from stream.metrics.journeys import JourneysState
from stream.metrics.traffic import TrafficState
from stream.metrics.vitals import VitalsState
from stream.settings import Secret, Settings
from stream.store import open_store
from stream.store.history import write_minutes

PARTITIONS = 4
HOUR_MS = 3_600_000


def minute_records(rate: float, seed: int = 7) -> dict[int, list[bytes]]:
    """An hour of closed minutes' ``history.minutes`` values at ``rate`` events/s."""
    batches = clean_batches(round(rate * SPAN_S), seed)
    funnels = load_funnels()
    states: dict[str, Callable[[], Any]] = {
        "traffic": TrafficState, "forms": FormsState, "vitals": VitalsState,
        "journeys": JourneysState, "heatmaps": HeatmapsState,
        "funnels": lambda: FunnelsState(funnels),
    }  # fmt: skip
    held = {(c, p): make() for c, make in states.items() for p in range(PARTITIONS)}
    for batch in batches:
        part = zlib.crc32(batch["session_id"].encode()) % PARTITIONS
        for channel in states:
            held[channel, part].apply(batch, batch["received_at"])
    closed: dict[int, list[tuple[str, int, dict[str, Any]]]] = defaultdict(list)
    for (channel, part), state in held.items():
        for start in state.closed_minutes():
            tally = state.minute_tally(start)
            if tally is not None:
                closed[start].append((channel, part, tally.to_wire()))
    first = min(closed) - min(closed) % HOUR_MS
    out: dict[int, list[bytes]] = defaultdict(list)
    for n in range(60):  # the closed minutes again and again, to the end of one hour
        start = first + n * 60_000
        for channel, part, wire in closed[sorted(closed)[n % len(closed)]]:
            value = {"channel": channel, "start": start, "part": part, "tally": wire}
            out[start].append(orjson.dumps(value))
    return dict(out)


def steady(engine: sqlalchemy.Engine, minutes: dict[int, list[bytes]]) -> tuple[float, int]:
    """CPU seconds for the minutes as they close one by one, and the writes made."""
    batch, writes, offset = Batch(), 0, 0
    now = max(minutes) + 3_600_000
    began = time.process_time()
    for n, values in enumerate(minutes.values()):
        for value in values:
            batch.add(decode(value), 0, offset, n * 60.0)
            offset += 1
        keys = batch.due(n * 60.0 + 10)
        if keys:
            write_minutes(engine, batch.take(keys), now_ms=now)
            batch.settle(keys)
            writes += 1
    return time.process_time() - began, writes


def backlog(engine: sqlalchemy.Engine, minutes: dict[int, list[bytes]]) -> float:
    """CPU seconds for the same records read at once (a historian catching up)."""
    batch, offset = Batch(), 0
    now = max(minutes) + 3_600_000
    began = time.process_time()
    for values in minutes.values():
        for value in values:
            batch.add(decode(value), 0, offset, 0.0)
            offset += 1
            if batch.rows >= batch.max_rows:
                keys = batch.due(0.0)
                write_minutes(engine, batch.take(keys), now_ms=now)
                batch.settle(keys)
    keys = batch.due(float("inf"))
    write_minutes(engine, batch.take(keys), now_ms=now)
    return time.process_time() - began


def measure(
    rate: float, runs: int, stores: dict[str, Callable[[], str]], say: Callable[[str], None]
) -> list[Row]:
    """The bench rows: CPU per minute of traffic, steady and backlog, on each store."""
    say(f"historian: folding an hour at {rate:g} events/s into closed-minute records")
    minutes = minute_records(rate)
    count = sum(len(v) for v in minutes.values())
    size = sum(len(r) for v in minutes.values() for r in v)
    shape = (
        f"{count / len(minutes):.0f} records ({size / len(minutes) / 1024:.0f} KiB) per minute, "
        f"{len(minutes)} minutes, 6 channels x {PARTITIONS} partitions"
    )
    rows = []
    for store, url in stores.items():
        cpu = Row("historian", f"CPU per minute of traffic, steady, {store}", "ms", note=shape)
        fast = Row("historian", f"CPU per minute of traffic, backlog, {store}", "ms")
        for n in range(runs):
            say(f"historian: {store}, run {n + 1}/{runs}")
            for row, step in ((cpu, steady), (fast, backlog)):
                engine = open_store(Settings(database_url=Secret(url())))
                began = time.monotonic()
                result = step(engine, minutes)
                seconds = result[0] if isinstance(result, tuple) else result
                row.values.append(seconds * 1000 / len(minutes))
                row.seconds += time.monotonic() - began
                if isinstance(result, tuple):
                    row.note = f"{shape}; {result[1]} writes"
                engine.dispose()
        rows += [cpu, fast]
    return rows


def section(runs: int, say: Callable[[str], None], rate: float = 20.0) -> list[Row]:
    """``python -m bench``'s historian rows (SQLite, the default store)."""
    home = Path(tempfile.mkdtemp(prefix="dojo-bench-history-"))
    counter = iter(range(1_000_000))
    try:
        return measure(
            rate, runs, {"SQLite": lambda: f"sqlite:///{home / f'pulse-{next(counter)}.db'}"}, say
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    """The historian's table, with the traffic it was measured on above it."""
    head = [
        "# Historian: CPU per minute of traffic",
        "",
        f"Run {meta['started']} on {meta['machine']}; simulated traffic at {meta['rate']:g} "
        f"events/s (seed {meta['seed']}), {meta['runs']} runs per row. Process CPU (decode, "
        "batch, write_minutes with its hour and day recompute) per minute of traffic; median "
        "and spread of the runs (on PostgreSQL the server's own CPU is not counted).",
        "",
        "| what ran | median | spread (min-max) | unit | runs | note |",
        "|---|---:|---|---|---:|---|",
    ]
    body = [
        f"| {r.what} | {report.fmt(r.median)} | {report.spread(r)} | {r.unit} | "
        f"{len(r.values)} | {r.note} |"
        for r in rows
    ]
    return "\n".join(head + body) + "\n"


@click.command()
@click.option("--rate", default=20.0, show_default=True, help="Site events per second.")
@click.option("--runs", default=3, show_default=True)
@click.option("--postgres", is_flag=True, help="Also on a private PostgreSQL (Debian's).")
def main(rate: float, runs: int, postgres: bool) -> None:
    """Print and write (bench/results/historian.md) the historian's CPU per minute of traffic."""
    home = Path(tempfile.mkdtemp(prefix="dojo-bench-history-"))
    counter = iter(range(1_000_000))
    stores: dict[str, Callable[[], str]] = {
        "SQLite": lambda: f"sqlite:///{home / f'pulse-{next(counter)}.db'}"
    }
    server = None
    if postgres:
        from infra import postgres as pg

        # A directory of its own: the server may run as another user, who cannot enter ``home``.
        server = pg.start(Path(tempfile.mkdtemp(prefix="dojo-bench-pg-")), config=pg.FAST)
        stores["PostgreSQL"] = lambda: server.create_database(f"bench{next(counter)}")
    try:
        rows = measure(rate, runs, stores, lambda line: click.echo(line, err=True))
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.home, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    meta = {"started": report.now_iso(), "machine": report.machine(), "runs": runs,
            "rate": rate, "seed": 7}  # fmt: skip
    path = report.write(rows, meta, name="historian", render=markdown)
    click.echo(path.read_text())


if __name__ == "__main__":
    main()

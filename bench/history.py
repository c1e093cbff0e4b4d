"""History store: range queries over a year of hourly rows, and its size, on SQLite and PostgreSQL.

Run: ``.venv/bin/python -m bench.history [--quick]``; writes ``bench/results/history.md``
(``python -m bench --only history`` runs the same measurement). Tallies are shaped like
the simulator's default traffic (``dojo-pulse run``: 20 events/s, 2 % invalid): one hour is
simulated and tallied per minute, channel and partition; every hour of the year is that
hour with its visitors and sessions renamed (so days and the year hold distinct people).
A query is what ``GET /api/history`` does: a summary per window and the summary of their
merge, measured three ways in the same run: ``before`` decodes every window's tally
(``read`` + ``totals``, the path before summaries), ``after`` reads the summaries and the
few tallies the total needs (``ranges.summarized``), and ``floor`` is a bare SELECT of the
rows ``after`` reads (no decoding, no merging). PostgreSQL is a private server
(infra/postgres.py) with its default, durable settings.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from bench.report import Row
from dojo_pulse.simulation.traffic import generate
from infra import postgres
from stream.sketches.quantiles import Quantiles
from stream.sketches.tally import Tally, merged
from stream.sketches.uniques import Uniques, fingerprint
from stream.store import history, migrate, summary
from stream.store.dialects import create_engine
from stream.store.history import DAY_MS, HISTORY, HOUR_MS, MINUTE_MS, MinuteRow
from stream.store.ranges import COARSER, summarized
from stream.store.summary import SUMMARIES

RESULTS = Path(__file__).parent / "results" / "history.md"
START = 1_767_225_600_000  # 2026-01-01 00:00 UTC
MINUTE_HOURS = 84  # minute rows at the end of the range: the 5,000 minutes an answer may hold
RATE, INVALID, PARTS = 20.0, 0.02, 4  # `dojo-pulse run`'s traffic; the default partitions
CHANNELS = ("traffic", "forms", "vitals", "funnels", "journeys", "heatmaps", "pipeline", "learning")
# (good up to, poor above) per Web Vital, as web.dev rates them.
VITALS = {"LCP": (2500, 4000), "INP": (200, 500), "CLS": (0.1, 0.25), "FCP": (1800, 3000),
          "TTFB": (800, 1800)}  # fmt: skip
WHERE_THE_TIME_GOES = """\
Where the time went before summaries: an hour of traffic holds its visitors and sessions as
exact sets (~35 KB stored, under the 8,192-key limit of `Uniques`); reading a year of them
decoded ~310 MB and merged 8,760 sets. After: each row's numbers are read from
`history_summary` (~2 KB of JSON for an hour of traffic), and the year's uniques come from
365 day rows (HyperLogLogs, ~20 KB each) plus the hours at the range's edges. What is left
of *after* above *floor* is parsing the summaries' JSON and decoding those day rows. A minute's
summary (of its partitions merged) costs ~40 % of its tallies' bytes; in return a range of
minutes decodes only the hours inside it and the minutes at its edges. Measured on 2 cores
shared with other jobs (load average 3 to 10): p99s carry their noise, p50s less so."""
FUNNEL = ("page_view", "form_start", "form_submit", "registration")


def _count(tally: Tally, name: str, n: float = 1) -> None:
    tally.counts[name] = tally.counts.get(name, 0) + n


def _tally_event(tallies: dict[str, Tally], event: dict[str, Any], request: Any) -> None:
    """Count one accepted event the way the channels' states count it (their tally names)."""
    kind, url, props = event.get("type"), event.get("url", ""), event.get("props") or {}
    traffic, journeys = tallies["traffic"], tallies["journeys"]
    _count(tallies["pipeline"], "accepted")
    traffic.uniques.setdefault("visitors", Uniques()).add(fingerprint(request.visitor_id))
    traffic.uniques.setdefault("sessions", Uniques()).add(fingerprint(request.session_id))
    if kind == "page_view":
        _count(traffic, "views")
        _count(traffic, f"pages.{url}")
        _count(journeys, "transitions")
    elif kind == "page_leave":
        _count(journeys, "exits")
    elif kind in ("click", "scroll"):
        _count(tallies["heatmaps"], f"{kind}s")
        if kind == "click":
            _count(tallies["heatmaps"], f"clicks.{url}")
    elif kind == "web_vital" and props.get("name") in VITALS:
        name, value = props["name"], float(props["value"])
        good, poor = VITALS[name]
        tallies["vitals"].quantiles.setdefault(name, Quantiles()).add(value)
        _count(
            tallies["vitals"],
            f"{name}." + ("good" if value <= good else "poor" if value > poor else "needs"),
        )
    elif kind in ("form_start", "form_submit", "form_abandon"):
        _count(tallies["forms"], f"{props.get('form_id')}.{kind[5:]}s")
    elif kind == "conversion":
        _count(tallies["learning"], "labelled")
        _count(tallies["learning"], "hits", 0.3)
    if kind in FUNNEL:
        _count(tallies["funnels"], f"register.{FUNNEL.index(kind)}")
        _count(tallies["learning"], "shown", kind == "page_view")


def simulated_minutes(seed: int) -> list[MinuteRow]:
    """One hour of the simulator's default traffic, tallied per channel, minute and partition."""
    requests, _ = generate(seed, rate=RATE, duration_s=3600.0, start_ms=START,
                           invalid_ratio=INVALID)  # fmt: skip
    cells: dict[tuple[int, int], dict[str, Tally]] = {}
    started: set[str] = set()
    for request in requests:
        events = request.body.get("events", []) if isinstance(request.body, dict) else []
        part = fingerprint(request.session_id) % PARTS
        for event, dead in zip(events, request.expect, strict=False):
            ts = event.get("ts") if isinstance(event, dict) else None
            minute = (
                START + ((ts if isinstance(ts, int) else START) - START) // MINUTE_MS * MINUTE_MS
            )
            minute = min(max(minute, START), START + HOUR_MS - MINUTE_MS)
            tallies = cells.setdefault((minute, part), {c: Tally() for c in CHANNELS})
            if dead:
                _count(tallies["pipeline"], f"dead.{dead}")
                continue
            if request.session_id not in started:
                started.add(request.session_id)
                _count(tallies["traffic"], "sessions_started")
                _count(tallies["journeys"], "entries")
            _tally_event(tallies, event, request)
    return [MinuteRow(c, m, p, t[c]) for (m, p), t in sorted(cells.items()) for c in CHANNELS]


def _renamed(template: Tally, rng: random.Random) -> Tally:
    """``template`` with other people: each fingerprint XOR one random mask (a bijection)."""
    out = Tally(counts=dict(template.counts), quantiles=template.quantiles)
    mask = rng.getrandbits(64)
    for name, seen in template.uniques.items():
        # An hour of this traffic (~2,000 people) is exact: "E" + sorted fingerprints.
        data = seen.to_bytes()
        assert data[:1] == b"E", "an hour's uniques past the exact limit"
        fresh = sorted(h ^ mask for h in array("Q", data[1:]))
        out.uniques[name] = Uniques.from_bytes(b"E" + array("Q", fresh).tobytes())
    return out


def year_rows(
    minutes: list[MinuteRow], days: int, say: Callable[[str], None]
) -> list[tuple[dict[str, Any], dict[str, object]]]:
    """Hour and day rows of every channel for ``days`` days of that hour, with their summaries."""
    hour = {c: merged(r.tally for r in minutes if r.channel == c) for c in CHANNELS}
    per_hour = {c: sum(r.channel == c for r in minutes) for c in CHANNELS}
    rng = random.Random(3)
    rows: list[tuple[dict[str, Any], dict[str, object]]] = []
    for d in range(days):
        if d % 30 == 0:
            say(f"history: building day {d + 1}/{days}")
        for channel in CHANNELS:
            hours = [_renamed(hour[channel], rng) for _ in range(24)]
            for h, tally in enumerate(hours):
                start = START + d * DAY_MS + h * HOUR_MS
                rows.append(_row(channel, "hour", start, tally, per_hour[channel]))
            rows.append(_row(channel, "day", START + d * DAY_MS, merged(hours), 24))
    return rows


def _row(
    channel: str, size: str, start: int, tally: Tally, built_from: int
) -> tuple[dict[str, Any], dict[str, object]]:
    return (
        {"channel": channel, "size": size, "start": start, "part": history.WHOLE,
         "tally": history.encode(tally), "updated_ms": start},
        summary.record(channel, size, start, summary.of(tally, built_from)),
    )  # fmt: skip


def before(engine: sa.Engine, channel: str, size: str, start: int, end: int) -> float:
    """Seconds for the API's answer from every window's tally (the path before summaries)."""
    began = time.perf_counter()
    windows = history.read(engine, channel, size, start, end)
    [tally.summary() for _, tally in windows]
    history.totals(windows).summary()
    return time.perf_counter() - began


def after(engine: sa.Engine, channel: str, size: str, start: int, end: int) -> float:
    """Seconds for the API's answer from the summaries (what it does now)."""
    began = time.perf_counter()
    summarized(engine, channel, size, start, end)
    return time.perf_counter() - began


def floor(engine: sa.Engine, channel: str, size: str, start: int, end: int) -> float:
    """Seconds for a bare SELECT of what ``after`` reads: summaries, and the coarser tallies."""
    began = time.perf_counter()
    with engine.connect() as conn:
        for table, of_size in ((SUMMARIES, size), (HISTORY, COARSER.get(size, size))):
            wanted = table.c.summary if table is SUMMARIES else table.c.tally
            conn.execute(
                sa.select(table.c.start, wanted).where(
                    history.within(table, channel, of_size, start, end)
                )
            ).all()
    return time.perf_counter() - began


def minute_rows(
    minutes: list[MinuteRow], first: int, hours: int
) -> list[tuple[list[dict[str, Any]], list[dict[str, object]]]]:
    """Minute rows and summaries of ``hours`` hours from ``first``, each the simulated hour."""
    blobs = [(r, history.encode(r.tally)) for r in minutes]
    whole = {}
    for channel in CHANNELS:
        for m in range(60):
            parts = [
                r.tally
                for r in minutes
                if r.channel == channel and r.start == START + m * MINUTE_MS
            ]
            whole[channel, m] = summary.of(merged(parts), len(parts))
    out = []
    for h in range(hours):
        at = first + h * HOUR_MS - START
        out.append((
            [{"channel": r.channel, "size": "minute", "start": r.start + at, "part": r.part,
              "tally": blob, "updated_ms": 0} for r, blob in blobs],
            [summary.record(c, "minute", START + at + m * MINUTE_MS, s)
             for (c, m), s in whole.items()],
        ))  # fmt: skip
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    quick: bool = False, say: Callable[[str], None] = print
) -> tuple[list[Row], dict[str, Any]]:
    """Every row of this bench, and facts for its notes."""
    days = 60 if quick else 365
    say("history: simulating one hour of default traffic")
    minutes = simulated_minutes(seed=1)
    rows = year_rows(minutes, days, say)
    home = Path(tempfile.mkdtemp(prefix="dojo-bench-history-"))
    pg_home = Path(tempfile.mkdtemp(prefix="dojo-bench-pg-"))  # handed to the postgres user
    out: list[Row] = []
    facts: dict[str, Any] = {"days": days, "hour_rows": sum(r["size"] == "hour" for r, _ in rows)}
    server = postgres.start(pg_home)
    try:
        for name, url in (("SQLite", f"sqlite:///{home / 'pulse.db'}"), ("PostgreSQL", None)):
            engine = create_engine(url or server.create_database("bench"))
            migrate.upgrade(engine)
            out += _engine_rows(name, engine, rows, minutes, days, quick, say, facts)
            engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(pg_home, ignore_errors=True)
    return out, facts


def _cases(days: int, quick: bool) -> list[tuple[str, list[tuple[str, str, int, int]], int]]:
    """(what, the queries of one round, rounds) of every range measured."""
    end = START + days * DAY_MS
    span = f"{days} days" if days != 365 else "a year"
    week = end - 5 * HOUR_MS  # a panel's "7 days" ends now: edge hours on both sides
    return [
        ("30-day daily view (8 channels x 25)",
         [(c, "day", end - 30 * DAY_MS, end) for c in CHANNELS], 25),
        (f"{span} of hours (8 channels)", [(c, "hour", START, end) for c in CHANNELS],
         1 if quick else 3),
        (f"{span} of hours of traffic (the heaviest)", [("traffic", "hour", START, end)],
         3 if quick else 10),
        (f"{span} of days of traffic", [("traffic", "day", START, end)], 10),
        ("7 days of hours of traffic, ending mid-day (edge hours)",
         [("traffic", "hour", week - 7 * DAY_MS, week)], 10),
        ("6 hours of minutes of traffic (8 channels)",
         [(c, "minute", end - 6 * HOUR_MS, end) for c in CHANNELS], 3),
        ("5,000 minutes of traffic (the most one answer holds)",
         [("traffic", "minute", end - 5000 * MINUTE_MS, end)], 3),
    ]  # fmt: skip


def _engine_rows(
    name: str, engine: sa.Engine, rows: list[tuple[dict[str, Any], dict[str, object]]],
    minutes: list[MinuteRow], days: int, quick: bool, say: Callable[[str], None],
    facts: dict[str, Any],
) -> list[Row]:  # fmt: skip
    say(f"history: {name}: inserting {len(rows):,} hour and day rows and their summaries")
    with engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            conn.execute(sa.insert(HISTORY), [row for row, _ in rows[i : i + 2000]])
            conn.execute(sa.insert(SUMMARIES), [row for _, row in rows[i : i + 2000]])
    end = START + days * DAY_MS
    say(f"history: {name}: inserting {MINUTE_HOURS} hours of minute rows and their summaries")
    with engine.begin() as conn:
        for tallies, summaries in minute_rows(minutes, end - MINUTE_HOURS * HOUR_MS, MINUTE_HOURS):
            conn.execute(sa.insert(HISTORY), tallies)
            conn.execute(sa.insert(SUMMARIES), summaries)
    out, table = [], []
    for what, queries, rounds in _cases(days, quick):
        say(f"history: {name}: {what}")
        # The old path decodes a year of traffic in ~17 s: it runs 3 rounds at most.
        ways = (("before", before, min(rounds, 3)), ("after", after, rounds),
                ("floor", floor, rounds))  # fmt: skip
        ms = {
            way: [1000 * run(engine, *q) for _ in range(n) for q in queries] for way, run, n in ways
        }
        table.append((what, *((_p(v, 0.99), statistics.median(v)) for v in ms.values())))
        out.append(Row("history", f"{name}: {what}, p99", "ms", [_p(ms["after"], 0.99)],
                       target="< 200 ms" if "daily" in what else "< 1 s",
                       note=f"before {_p(ms['before'], 0.99):,.0f} ms, floor "
                            f"{_p(ms['floor'], 0.99):,.1f} ms"))  # fmt: skip
    facts.setdefault("cases", {})[name] = table
    say(f"history: {name}: writing an hour of minutes as the historian would")
    writes = []
    for m in range(60):
        batch = [r for r in minutes if r.start == START + m * MINUTE_MS]
        moved = [MinuteRow(r.channel, end + r.start - START, r.part, r.tally) for r in batch]
        began = time.perf_counter()
        history.write_minutes(engine, moved, now_ms=end + HOUR_MS)
        writes.append(time.perf_counter() - began)
    facts[name] = _sizes(engine)
    return [*out, Row(
        "history", f"{name}: write one minute (8 channels x {PARTS} parts) + roll-ups, p99",
        "ms", [1000 * _p(writes, 0.99)], note=f"p50 {1000 * statistics.median(writes):.1f} ms",
    )]  # fmt: skip


def _sizes(engine: sa.Engine) -> dict[str, tuple[float, float]]:
    """Stored bytes per month (30 days) of each size: (tallies, summaries)."""
    out: dict[str, list[float]] = {size: [] for size in history.SIZES}
    with engine.connect() as conn:
        for table, column in ((HISTORY, HISTORY.c.tally), (SUMMARIES, SUMMARIES.c.summary)):
            found = conn.execute(
                sa.select(
                    table.c.size,
                    sa.func.sum(sa.func.length(column)),
                    sa.func.count(sa.distinct(table.c.start)),
                ).group_by(table.c.size)
            ).all()
            for size, total, windows in found:
                out[size].append(float(total) / windows * 30 * DAY_MS / history.SPAN_MS[size])
    return {size: (tallies, summaries) for size, (tallies, summaries) in out.items()}


def markdown(rows: Iterable[Row], facts: dict[str, Any]) -> str:
    """The results page."""
    lines = ["# History store", "", f"Generated by `python -m bench.history`, {facts['days']} days"
             f" of hour rows per channel ({facts['hour_rows']:,} hour rows), 8 channels.", "",
             "Range queries as the history API answers them (a summary per window and the "
             "total's), p99 (p50) in ms, all three in the same run: **before** decodes every "
             "window's tally, **after** reads the summaries and the few tallies the total "
             "needs, **floor** is a bare SELECT of the rows *after* reads.", "",
             "| engine | range | before | after | floor | target |",
             "| --- | --- | ---: | ---: | ---: | --- |"]  # fmt: skip
    for name, table in facts["cases"].items():
        for what, *ways in table:
            cells = [f"{p99:,.1f} ({p50:,.1f})" for p99, p50 in ways]
            target = "< 200 ms" if "daily" in what else "< 1 s"
            lines.append(f"| {name} | {what} | {' | '.join(cells)} | {target} |")
    lines += ["", "| what | value | target | note |", "| --- | ---: | --- | --- |"]
    lines += [f"| {r.what} | {r.median:,.1f} {r.unit} | {r.target} | {r.note} |" for r in rows]
    lines += ["", "Stored bytes per month (30 days) of default traffic, all 8 channels, and what "
              "default retention keeps (minutes 14 days, hours 396 days, days: a year's worth):",
              "", "| engine | size | tallies per month | summaries per month | kept |",
              "| --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    kept_months = {"minute": 14 / 30, "hour": 396 / 30, "day": 365 / 30}
    for name in ("SQLite", "PostgreSQL"):
        for size, (tallies, summaries) in facts[name].items():
            kept = (tallies + summaries) * kept_months[size]
            lines.append(f"| {name} | {size} | {tallies / 1e6:,.2f} MB | {summaries / 1e6:,.2f} MB"
                         f" | {kept / 1e6:,.0f} MB |")  # fmt: skip
    lines += ["", WHERE_THE_TIME_GOES]
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--quick", is_flag=True, help="60 days instead of a year, fewer repeats.")
def main(quick: bool) -> None:
    """Range queries and store size of history on SQLite and PostgreSQL."""
    rows, facts = measure(quick=quick, say=lambda m: click.echo(m, err=True))
    RESULTS.write_text(markdown(rows, facts))
    click.echo(RESULTS.read_text())


if __name__ == "__main__":
    main()

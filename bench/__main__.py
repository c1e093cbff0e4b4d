"""``python -m bench``: every speed figure of Dojo Pulse from one run, on one data set."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

import click
from redis.asyncio import Redis

from bench import (
    capacity,
    ceiling,
    door,
    fanout,
    flatcost,
    footprint,
    historian,
    history,
    latency,
    load,
    pipeline,
    profile,
    report,
    scaleout,
    streams,
)
from bench.process import Children, private_redis
from bench.report import Row
from bench.runner import Clean, Runner
from bench.topics import Broker
from stream.settings import Settings
from stream.topics import ensure_topics

SECTIONS = (
    "ceiling", "streams", "pipeline", "latency", "fanout", "footprint", "history", "historian",
    "door",
)  # fmt: skip


MAX_SIZE = 20_000_000  # events: the data set is held in memory, about 1 KiB an event


class Progress:
    """Plain progress lines with the time since the start."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    def __call__(self, message: str) -> None:
        click.echo(f"[{time.monotonic() - self.began:6.1f} s] {message}", err=True)


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter("event counts separated by commas", param_hint="--sizes") from None
    if sizes and (len(sizes) < 2 or sizes[0] < 1000 or sizes[-1] > MAX_SIZE):
        raise click.BadParameter(
            f"at least two sizes from 1,000 to {MAX_SIZE:,} events", param_hint="--sizes"
        )
    return sizes


def _agent_sets(text: str) -> list[tuple[str, ...]]:
    sets = [tuple(a.strip() for a in part.split(",") if a.strip()) for part in text.split(";")]
    # Sets that start at the raw topic first: their clean output feeds the others.
    return sorted((s for s in sets if s), key=lambda s: not pipeline.reads_raw(s))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--only", default=",".join(SECTIONS), show_default=True, help="Comma-separated sections to run."
)
@click.option(
    "--events", type=int, default=None, help="Events in the data set [100,000; quick 20,000]."
)
@click.option("--runs", type=int, default=None, help="Runs per row [3; quick 1].")
@click.option(
    "--agents",
    "agent_sets",
    default="validate;traffic;all",
    show_default=True,
    help="Worker agent sets (DOJO_AGENTS) to measure, separated by ';'.",
)
@click.option(
    "--sizes",
    default="",
    help="Flat cost: also run the all-agents worker at these event counts, interleaved, e.g. "
    "100000,1000000 (the row compares CPU per M events of the largest and the smallest).",
)
@click.option(
    "--scale-out", "scale_out", is_flag=True, help="Also measure two workers against one."
)
@click.option(
    "--warmup/--no-warmup", default=True, show_default=True,
    help="One uncounted pipeline run per agent set before the counted ones.",
)  # fmt: skip
@click.option("--quick", is_flag=True, help="Small smoke run (under 3 minutes).")
@click.option(
    "--profile", "with_profile", is_flag=True, help="Also profile one extra worker run with py-spy."
)
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated traffic.")
@click.option(
    "--out",
    default="latest",
    show_default=True,
    help="Name of the result files (bench/results/<out>.md and .json); keep 'latest' for the "
    "run README quotes, another name for trials.",
)
def main(only: str, events: int | None, runs: int | None, agent_sets: str, sizes: str,
         scale_out: bool, warmup: bool, quick: bool, with_profile: bool, seed: int,
         out: str) -> None:  # fmt: skip
    """Benchmark the pipeline beside the raw-consumer ceiling and Kafka Streams, same data.

    Sections: ceiling, streams, pipeline, latency, fanout, footprint, history, historian, door.
    Results go to bench/results/<out>.md and <out>.json. Needs Kafka and Redis
    (`dojo-pulse infra up`).
    """
    if not out or "/" in out or out.startswith("."):
        raise click.BadParameter("a plain file name, e.g. trial-1", param_hint="--out")
    chosen = [s.strip() for s in only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise click.BadParameter(f"unknown sections: {', '.join(sorted(unknown))}")
    options = {
        "sections": chosen,
        "events": events or (20_000 if quick else 100_000),
        "runs": runs or (1 if quick else 3),
        "agent_sets": _agent_sets(agent_sets),
        "quick": quick,
        "profile": with_profile,
        "seed": seed,
        "sizes": _sizes(sizes),
        "scale_out": scale_out,
        "warmup": warmup and not quick,
    }
    # Retries right after topic creation and metadata misses after deletion are expected here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    rows, meta = asyncio.run(_bench(Settings.from_env(), options, Progress()))
    path = report.write(rows, meta, name=out)
    click.echo(path.read_text())
    click.echo(f"written: {path} and {path.with_suffix('.json')}")


async def _bench(
    base: Settings, o: dict[str, Any], say: Progress
) -> tuple[list[Row], dict[str, Any]]:
    run_id = f"bench-{uuid.uuid4().hex[:6]}"
    began = time.time()
    children = Children()
    broker = Broker(base.kafka)
    await broker.start()
    rows: list[Row] = []
    meta: dict[str, Any] = {"started": report.now_iso(), "machine": report.machine()}
    meta.update(run_id=run_id, runs=o["runs"], quick=o["quick"], seed=o["seed"], warmup=o["warmup"])
    meta["agent_sets"] = [",".join(s) for s in o["agent_sets"]]
    try:
        say(f"building the data set: {o['events']:,} events, seed {o['seed']}")
        data = load.build(o["events"], seed=o["seed"], site=base.site_id)
        meta.update(events=data.events, messages=len(data.messages), page_views=data.page_views)
        source = replace(base, topic_prefix=f"{run_id}-data")
        await ensure_topics(source)
        took = await load.produce(base, source.topic_raw, data.messages)
        say(f"loaded {len(data.messages):,} raw messages in {took:.1f} s")
        found: dict[str, float] = {}
        for section in o["sections"]:
            try:
                rows += await _section(section, base, children, broker, source.topic_raw, data, o,
                                       say, run_id, found)  # fmt: skip
            except Exception as exc:  # a failed section is reported; the others still run
                say(f"{section}: failed: {exc!r}")
                rows.append(Row(section, "section failed", "", note=repr(exc)[:200]))
        meta["capacity"] = _capacity(rows, data, found)
        folded = report.RESULTS / "worker.folded"
        if o["profile"] and folded.exists() and folded.stat().st_mtime > began:
            meta["hot_frames"] = profile.hot_frames(folded)
    finally:
        children.cleanup()
        deleted = await broker.delete_prefixed(run_id)
        await broker.close()
        say(f"stopped every child; deleted {len(deleted)} topics of {run_id}")
    return rows, meta


async def _section(
    section: str, base: Settings, children: Children, broker: Broker, topic: str,
    data: load.DataSet, o: dict[str, Any], say: Progress, run_id: str, found: dict[str, float],
) -> list[Row]:  # fmt: skip
    if section == "ceiling":
        return await _ceiling(base, topic, data, o, say, found)
    if section == "streams":
        return await asyncio.to_thread(_streams, base, topic, data, o, say, run_id, found)
    if section == "pipeline":
        return await _pipeline(base, children, broker, data, o, say, run_id, found)
    if section == "latency":
        return await latency.measure(
            base, children, tag=f"{run_id}-lat", agents=("all",), runs=o["runs"],
            seconds=3 if o["quick"] else 10, probe_events=2_000 if o["quick"] else 10_000,
            known_max=found.get("all"), say=say, found=found,
        )  # fmt: skip
    if section == "history":  # the store alone: bench/history.py (no Kafka involved)
        return (await asyncio.to_thread(history.measure, o["quick"], say))[0]
    if section == "historian":  # needs no broker: the store and the historian's own steps
        return await asyncio.to_thread(historian.section, o["runs"], say)
    if section == "door":  # the collector beside its HTTP floor, loaded by wrk
        return await door.measure(base, children, broker, tag=f"{run_id}-door", runs=o["runs"],
                                  seconds=4 if o["quick"] else 10, connections=(16, 64),
                                  say=say)  # fmt: skip
    if section == "fanout":
        sizes = (100, 1000) if o["quick"] else (100, 1000, 5000)
        return await fanout.measure(base, children, sizes=sizes, runs=o["runs"],
                                    publishes=3 if o["quick"] else 10, say=say)  # fmt: skip
    return await footprint.measure(
        base, children, tag=f"{run_id}-foot", agents=("all",), runs=o["runs"],
        seconds=4 if o["quick"] else 15, rate=found.get("e2e", 600) / 2, say=say,
    )  # fmt: skip


async def _ceiling(
    base: Settings, topic: str, data: load.DataSet, o: dict[str, Any], say: Progress,
    found: dict[str, float],
) -> list[Row]:  # fmt: skip
    loop = Row("ceiling", "raw aiokafka getmany + orjson.loads loop (1 process)", "events/s")
    cperf = Row("ceiling", "Kafka ConsumerPerformance (Java, fetch only, no decoding)", "events/s")
    for n in range(o["runs"]):
        say(f"ceiling: raw loop, run {n + 1}/{o['runs']}")
        t0 = time.monotonic()
        drain = await ceiling.raw_loop(base, topic, len(data.messages))
        loop.values.append(drain.events_per_s)
        loop.seconds += time.monotonic() - t0
        per_m = drain.cpu_s / max(drain.events, 1) * 1e6
        loop.note = f"{drain.messages / drain.seconds:,.0f} msg/s; {per_m:.2f} CPU-s per M events"
        say(f"ceiling: ConsumerPerformance, run {n + 1}/{o['runs']}")
        t0 = time.monotonic()
        libs = base.cache_dir / f"kafka-{base.kafka_version}" / "libs"
        perf = await asyncio.to_thread(
            ceiling.consumer_performance,
            base,
            topic,
            len(data.messages),
            libs,
            data.events_per_message,
        )
        if perf is not None:
            cperf.values.append(perf.events_per_s)
            msgs = perf.messages / perf.seconds
            cperf.note = f"{msgs:,.0f} msg/s x {data.events_per_message:.2f} events/msg"
        cperf.seconds += time.monotonic() - t0
    if loop.median:
        found["ceiling"] = loop.median
    return [loop, cperf]


def _streams(
    base: Settings, topic: str, data: load.DataSet, o: dict[str, Any], say: Progress, run_id: str,
    found: dict[str, float],
) -> list[Row]:  # fmt: skip
    what = "Kafka Streams 4.4.0, 1 thread: 1-min page views per URL + unique visitors"
    row = Row("streams", what, "events/s")
    if shutil.which("mvn") is None or shutil.which("java") is None:
        row.note = "java/mvn missing"
        return [row]
    say("streams: building the baseline (cached after the first time)")
    jar = streams.build(base)
    for n in range(o["runs"]):
        say(f"streams: run {n + 1}/{o['runs']}")
        t0 = time.monotonic()
        drain = streams.run(base, jar, topic, len(data.messages), f"{run_id}-streams-{n}")
        row.values.append(drain.events_per_s)
        row.seconds += time.monotonic() - t0
    if row.median:
        found["streams"] = row.median
        if found.get("ceiling"):
            row.note = f"{row.median / found['ceiling']:.0%} of the raw-loop ceiling"
    return [row]


async def _pipeline(
    base: Settings, children: Children, broker: Broker, data: load.DataSet, o: dict[str, Any],
    say: Progress, run_id: str, found: dict[str, float],
) -> list[Row]:  # fmt: skip
    redis_child, url = private_redis(children)
    redis = Redis.from_url(url)
    runner = Runner(replace(base, redis_url=url), children, broker, redis, run_id, say)
    clean = Clean()
    rows: list[Row] = []
    try:
        for agents in o["agent_sets"]:
            rows += await _agent_set(runner, agents, data, clean, o, found)
        if o["sizes"]:
            sized = {n: data if n == o["events"] else _build(n, base, o, say) for n in o["sizes"]}
            rows += await _part("flat", flatcost.measure(runner, ("all",), sized, o["runs"]), say)
        if o["scale_out"]:
            rows += await _part("scale-out", scaleout.measure(runner, ("all",), data, o["runs"]),
                                say)  # fmt: skip
    finally:
        await redis.aclose()
        children.stop(redis_child)
    return rows


async def _part(name: str, rows: Awaitable[list[Row]], say: Progress) -> list[Row]:
    """The rows of one part of the pipeline section; a failure is a row, the others stay."""
    try:
        return await rows
    except Exception as exc:  # e.g. workers that never joined: reported, the run goes on
        say(f"{name}: failed: {exc!r}")
        return [Row(name, "part failed", "", note=repr(exc)[:200])]


async def _agent_set(
    runner: Runner, agents: tuple[str, ...], data: load.DataSet, clean: Clean, o: dict[str, Any],
    found: dict[str, float],
) -> list[Row]:  # fmt: skip
    """The rows of one agent set: a warm-up run (not counted), then ``runs`` counted runs."""
    label, say = ",".join(agents), runner.say
    if not pipeline.reads_raw(agents) and not clean.messages:
        return [Row("pipeline", f"worker [{label}]", "events/s", note="no clean events captured")]
    rate = Row("pipeline", f"worker [{label}]: steady events/s", "events/s", target=_target(agents))
    durable = Row("pipeline", f"worker [{label}]: committed events/s", "events/s")
    cpu = Row("pipeline", f"worker [{label}]: CPU-seconds per million events", "CPU-s")
    changelog = Row("pipeline", f"worker [{label}]: changelog messages per input event",
                    "msg/event", target="≤ 0.01")  # fmt: skip
    rss = Row("pipeline", f"worker [{label}]: peak RSS", "MiB")
    warm = 1 if o["warmup"] else 0
    extra = 2 if o["profile"] and agents == o["agent_sets"][0] else 0
    for n in range(-warm, o["runs"] + extra):
        profiling = n >= o["runs"]
        which = "warm-up (not counted)" if n < 0 else f"run {n + 1}/{o['runs']}"
        say(f"pipeline: [{label}] {'profiled run' if profiling else which}")
        hook = None
        if profiling:
            fmt = "raw" if n == o["runs"] else "flamegraph"
            out = report.RESULTS / ("worker.folded" if fmt == "raw" else "worker.svg")
            hook = profile.attacher(runner.children, out, fmt)
        result = await runner.once(agents, data, clean=clean, on_worker=hook)
        if result.note:
            say(f"pipeline: [{label}] {result.note}")
        if profiling or n < 0:
            continue
        if not result.drained:
            rate.note = result.note
            break
        rate.note = result.note or rate.note
        rate.values.append(result.events_per_s)
        durable.values.append(result.committed_per_s)
        cpu.values.append(result.cpu_s_per_m)
        changelog.values.append(result.changelog_per_event)
        rss.values.append(result.peak_rss_mib)
        if agents == ("all",):  # Redis figures of the capacity plan
            found["redis_commands_per_event"] = result.redis_commands_per_event
            found["redis_used_mib"] = result.redis_used_mib
        for r in (rate, durable, cpu, changelog, rss):
            r.seconds += result.seconds
    if rate.median:
        found[label] = rate.median
        floors = [k for k in ("ceiling", "streams") if found.get(k)]
        notes = [f"{rate.median / found[k]:.0%} of {k}" for k in floors]
        rate.note = "; ".join([*notes, rate.note] if rate.note else notes)
    if pipeline.downstream(agents):
        durable.note = "offsets commit at checkpoints, a second or more apart"
        return [rate, durable, cpu, changelog, rss]
    return [rate, cpu, changelog, rss]


def _build(events: int, base: Settings, o: dict[str, Any], say: Progress) -> load.DataSet:
    began = time.monotonic()
    data = load.build(events, seed=o["seed"], site=base.site_id)
    say(f"built {data.events:,} events ({len(data.messages):,} messages) in "
        f"{time.monotonic() - began:.1f} s")  # fmt: skip
    return data


def _capacity(rows: list[Row], data: load.DataSet, found: dict[str, float]) -> list[str]:
    """The capacity plan from this run's all-agents cost, Redis use and the door's CPU/request."""
    # The dearest all-agents cost measured (at the largest size, if the flat-cost part ran):
    # cost per event grows with the day's state, and a plan must hold for a big day.
    costly = [
        r for r in rows if r.section in ("pipeline", "flat") and r.median
        and r.what.startswith("worker [all]") and r.what.endswith("per million events")
    ]  # fmt: skip
    if not costly:
        return []
    dearest = max(costly, key=lambda r: r.median or 0.0)
    cpu = dearest.median or 0.0
    rss = next((r.median for r in rows if r.what == "worker [all]: peak RSS" and r.median), 0.0)
    door = capacity.door_cost([r.to_dict() for r in rows]) or capacity.collector_cost(
        report.RESULTS
    )
    costs = capacity.Costs(
        worker_cpu_s_per_m=cpu, events_per_request=data.events_per_message,
        bytes_per_message=sum(len(v) for _, v in data.messages) / max(len(data.messages), 1),
        redis_commands_per_event=found.get("redis_commands_per_event", 0.0),
        redis_used_mib=found.get("redis_used_mib", 0.0), worker_rss_mib=rss or 0.0,
        collector_us_per_request=door, worker_source=dearest.what,
    )  # fmt: skip
    return capacity.lines(costs, [capacity.plan(r, costs) for r in (1_000.0, 100_000.0)])


def _target(agents: tuple[str, ...]) -> str:
    if agents == ("traffic",):
        return "≥ Kafka Streams"
    if "all" in agents:
        return "≥ 100,000 per worker"
    return ""


if __name__ == "__main__":
    main()

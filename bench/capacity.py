"""A capacity plan derived from measured per-core costs: partitions, workers, collectors,
Kafka and Redis for a given event rate.

Every figure below comes from a measured input (``Costs``, filled by the pipeline bench and
the ``door`` section's results) and a few stated planning rules (the constants). The
arithmetic is pure, so the plan can be checked by hand and by tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import orjson

# Planning rules (choices, not measurements):
UTILISATION = 0.6  # plan cores at 60 % busy: room for bursts and for catching up after an outage
PARTITIONS_PER_WORKER = 2  # so the worker count can double without re-partitioning (state moves)
MIN_PARTITIONS = 4  # the default DOJO_PARTITIONS
REPLICATION = 3  # production Kafka: three copies of each topic
RETENTION_DAYS = 7  # raw + clean topics kept a week (the replay window)
TOPICS_PER_EVENT = 2  # each event is written to the raw topic and again to the clean one
REDIS_OPS_PER_CORE = 100_000.0  # simple commands/s one Redis core serves (redis-benchmark order)
CORE_RULE = "cores planned at 60 % busy"


@dataclass(frozen=True)
class Costs:
    """Measured inputs of the plan."""

    worker_cpu_s_per_m: float  # all-agents worker, CPU-seconds per million events
    events_per_request: float  # events in one beacon batch (one raw message)
    bytes_per_message: float  # mean raw message size
    redis_commands_per_event: float
    redis_used_mib: float  # Redis memory after the measured data set
    worker_rss_mib: float  # peak RSS of one all-agents worker
    collector_us_per_request: float | None = None  # CPU per request of one collector process
    worker_source: str = ""  # the row the worker cost comes from


@dataclass(frozen=True)
class Plan:
    rate: float  # events/s
    worker_cores: float
    workers: int
    partitions: int
    collector_cores: float | None
    collectors: int | None
    kafka_in_mb_s: float  # written to the leader, before replication
    kafka_disk_gb: float  # retained, with replication
    redis_ops_s: float
    redis_cores: int


def processes(cores: float) -> int:
    """Single-threaded processes needed for ``cores`` of work at the planned utilisation."""
    return max(1, math.ceil(cores / UTILISATION - 1e-9))


def plan(rate: float, costs: Costs) -> Plan:
    """The sizing for ``rate`` events per second."""
    worker_cores = rate * costs.worker_cpu_s_per_m / 1e6
    workers = processes(worker_cores)
    requests = rate / max(costs.events_per_request, 1e-9)
    collector_cores = collectors = None
    if costs.collector_us_per_request:
        collector_cores = requests * costs.collector_us_per_request / 1e6
        collectors = processes(collector_cores)
    bytes_s = requests * costs.bytes_per_message * TOPICS_PER_EVENT
    disk = bytes_s * 86_400 * RETENTION_DAYS * REPLICATION
    ops = rate * costs.redis_commands_per_event
    return Plan(
        rate=rate,
        worker_cores=worker_cores,
        workers=workers,
        partitions=max(MIN_PARTITIONS, PARTITIONS_PER_WORKER * workers),
        collector_cores=collector_cores,
        collectors=collectors,
        kafka_in_mb_s=bytes_s / 1e6,
        kafka_disk_gb=disk / 1e9,
        redis_ops_s=ops,
        redis_cores=max(1, math.ceil(ops / (REDIS_OPS_PER_CORE * UTILISATION) - 1e-9)),
    )


def lines(costs: Costs, plans: list[Plan]) -> list[str]:
    """The plan as Markdown: the measured inputs first, then one row per rate."""
    collector = (
        f"{costs.collector_us_per_request:.0f} µs CPU per request (door section)"
        if costs.collector_us_per_request
        else "not measured (run the door section)"
    )
    out = [
        "Capacity plan, derived from this run's measured costs:",
        "",
        f"- worker, all agents: {costs.worker_cpu_s_per_m:.1f} CPU-s per million events "
        f"(median{', ' + costs.worker_source if costs.worker_source else ''}), peak RSS "
        f"{costs.worker_rss_mib:.0f} MiB per worker",
        f"- collector: {collector}; {costs.events_per_request:.2f} events per request, "
        f"{costs.bytes_per_message:.0f} bytes per raw message",
        f"- Redis: {costs.redis_commands_per_event:.3f} commands per event, "
        f"{costs.redis_used_mib:.1f} MiB used after the data set",
        f"- rules: {CORE_RULE}; {PARTITIONS_PER_WORKER} partitions per worker (at least "
        f"{MIN_PARTITIONS}); Kafka x{REPLICATION} replicas, {RETENTION_DAYS} days, raw + clean "
        f"topics; one Redis core ~{REDIS_OPS_PER_CORE:,.0f} simple commands/s",
        "",
        "| events/s | worker cores | workers | partitions | collector cores | collectors "
        "| Kafka in (MB/s) | Kafka disk (GB) | Redis ops/s | Redis cores |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in plans:
        cc = "-" if p.collector_cores is None else f"{p.collector_cores:.2f}"
        out.append(
            f"| {p.rate:,.0f} | {p.worker_cores:.2f} | {p.workers} | {p.partitions} | {cc} | "
            f"{p.collectors or '-'} | {p.kafka_in_mb_s:.2f} | {p.kafka_disk_gb:,.0f} | "
            f"{p.redis_ops_s:,.0f} | {p.redis_cores} |"
        )
    return out


def collector_cost(directory: Path) -> float | None:
    """CPU µs per request of the collector at the most connections, from the newest result
    file holding a ``door`` section; None when no run measured it."""
    found: list[tuple[float, float]] = []  # (file time, µs)
    for path in directory.glob("*.json"):
        try:
            rows = orjson.loads(path.read_bytes()).get("rows", [])
        except (orjson.JSONDecodeError, AttributeError, OSError):
            continue
        best = door_cost(rows if isinstance(rows, list) else [])
        if best is not None:
            found.append((path.stat().st_mtime, best))
    return max(found)[1] if found else None


# The door section's one-process CPU per request (and its name before several processes).
DOOR_ROWS = ("collector (1 process): CPU per request (", "collector: CPU per request (")


def door_cost(rows: list[object]) -> float | None:
    """The collector's CPU per request (median µs) at its largest connection count in ``rows``."""
    best: tuple[int, float] | None = None
    for row in rows:
        if not isinstance(row, dict) or row.get("section") != "door":
            continue
        what, median = row.get("what"), row.get("median")
        prefix = next((p for p in DOOR_ROWS if isinstance(what, str) and what.startswith(p)), None)
        if prefix is None or not isinstance(what, str):
            continue
        conns = what.removeprefix(prefix).split(" ", 1)[0]
        if isinstance(median, bool) or not isinstance(median, int | float):
            continue  # a flag or text where a figure belongs
        if not (conns.isdigit() and median > 0):
            continue
        if best is None or int(conns) > best[0]:
            best = (int(conns), float(median))
    return None if best is None else best[1]

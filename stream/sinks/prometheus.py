"""The worker's Prometheus metrics, served at ``/metrics`` on ``DOJO_WORKER_WEB_PORT``.

A worker is one process, so these are the process's own metrics: module-level, as
prometheus_client intends, and counted where the work is done (folds in
``stream.runtime.progress``, the validate stage's outcomes in ``stream.metrics.pipeline``,
checkpoint times in ``stream.runtime.aggregate``) without a handle passed through every
constructor. They live in a registry of this module, not the library's global one, which
the web apps' per-app registries never see. Labels are agent names and dead-letter reason
codes: fixed sets, nothing a visitor sent. Counter names gain ``_total`` in the exposition.
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # CPU, memory and open files of the worker

FOLDED = Counter(
    "dojo_worker_messages_folded",
    "Clean-topic messages (bundles of session batches) each agent folded in this process",
    ["agent"],
    registry=REGISTRY,
)
LAST_FOLD = Gauge(
    "dojo_worker_last_fold_timestamp_seconds",
    "When each agent of this process last folded a message",
    ["agent"],
    registry=REGISTRY,
)
ACCEPTED = Counter(
    "dojo_worker_events_accepted",
    "Events the validate stage of this process passed on to the clean topic",
    registry=REGISTRY,
)
DEAD_LETTERED = Counter(
    "dojo_worker_events_dead_lettered",
    "Events the validate stage of this process sent to the dead-letter topic, by reason",
    ["reason"],
    registry=REGISTRY,
)
# The validate stage's share of the raw partitions: fewer where the learners are held
# (``stream.runtime.lighter``).
RAW_PARTITIONS = Gauge(
    "dojo_worker_raw_partitions",
    "Raw-topic partitions the validate stage of this process reads now",
    registry=REGISTRY,
)
HOLDS_LEARNERS = Gauge(
    "dojo_worker_holds_learners",
    "1 while this process holds the online learners (one worker of the deployment does)",
    registry=REGISTRY,
)
# A small state checkpoints in a millisecond, a busy partition's traffic state in tens of
# them; past a second the budget spaces checkpoints out (``stream.runtime.budget``).
CHECKPOINT_SECONDS = Histogram(
    "dojo_worker_checkpoint_seconds",
    "Time to encode and write one agent's checkpoint",
    ["agent"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)

# The historian (``stream.history.historian``): what it wrote, skipped and pruned, and how far
# behind the closed minutes it is. Reasons are the fixed words of ``stream.history.records``.
HISTORY_ROWS = Counter(
    "dojo_worker_history_rows_written",
    "Closed-minute rows the historian of this process wrote to the store",
    registry=REGISTRY,
)
HISTORY_SKIPPED = Counter(
    "dojo_worker_history_records_skipped",
    "history.minutes records the historian skipped, by reason (never stored)",
    ["reason"],
    registry=REGISTRY,
)
HISTORY_BEHIND = Gauge(
    "dojo_worker_history_behind_messages",
    "history.minutes records not written to the store yet (the historian's lag)",
    registry=REGISTRY,
)
HISTORY_NEWEST = Gauge(
    "dojo_worker_history_newest_minute_timestamp_seconds",
    "Start of the newest closed minute the historian of this process wrote",
    registry=REGISTRY,
)
HISTORY_WRITE_SECONDS = Histogram(
    "dojo_worker_history_write_seconds",
    "Time to write one batch of closed minutes (and recompute their hours and days)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
HISTORY_PRUNED = Counter(
    "dojo_worker_history_rows_pruned",
    "Store rows the historian of this process deleted by retention, by window size",
    ["size"],
    registry=REGISTRY,
)


class MetricsPortError(OSError):
    """The metrics server could not listen; the message says what to do."""


def serve_metrics(host: str, port: int) -> WSGIServer:
    """Serve ``REGISTRY`` on ``host:port`` from a daemon thread; ``shutdown()`` stops it."""
    try:
        server, _ = start_http_server(port, host, registry=REGISTRY)
    except OSError as exc:
        raise MetricsPortError(
            f"the worker cannot serve /metrics on {host}:{port} ({exc.strerror or exc}): "
            "stop what holds the port or set DOJO_WORKER_WEB_PORT"
        ) from exc
    return server

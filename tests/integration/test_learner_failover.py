"""One worker of many holds the online models; when it dies another takes them over.

Two workers share a deployment: exactly one says it holds the learner, the models never
flip between two diverging copies (their learned count only grows), and after a SIGKILL of
the holder the other worker holds them within the session timeout, from the checkpoint.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from dojo_pulse.simulation import generate
from stream.settings import Settings
from tests.conftest import free_port
from tests.integration.conftest import Proc, wait_for
from tests.integration.test_ground_truth import produce
from tests.integration.test_learning_restart import channel
from tests.integration.test_metrics_endpoints import scrape, total

pytestmark = pytest.mark.integration

HOLDING = "this worker holds the learner now"


def log_of(worker: Proc) -> str:
    return worker.log.read_text(errors="replace")


def share(worker: Proc) -> tuple[int, int] | None:
    """(holds the learners, raw partitions validated) from the worker's /metrics."""
    s = worker.settings
    _, samples = scrape(f"http://{s.worker_web_host}:{s.worker_web_port}/metrics")
    if not samples:
        return None
    return int(total(samples, "dojo_worker_holds_learners")), int(
        total(samples, "dojo_worker_raw_partitions")
    )


def learned(settings: Settings) -> int:
    """Predictions the recommender has checked (0 before its first snapshot)."""
    return int(channel(settings, "recommendations").get("data", {}).get("n", 0))


def test_one_worker_holds_the_learner_and_another_takes_over(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = replace(stack_settings, learn_session_timeout_s=6.0)
    now = int(time.time() * 1000)
    requests, _ = generate(7, rate=60, duration_s=120, start_ms=now - 125_000)
    requests = list(requests)
    # Each worker serves its own /metrics.
    workers = [start(["worker"], replace(settings, worker_web_port=free_port())) for _ in "ab"]
    asyncio.run(produce(settings, requests[: len(requests) // 2]))
    wait_for(lambda: learned(settings) > 50 or not all(w.alive() for w in workers), 120,
             "the learner's snapshot")  # fmt: skip
    assert all(w.alive() for w in workers), [w.output() for w in workers]

    # Both workers have joined (one holds, one stands by); the count never goes back.
    seen = []
    end = time.monotonic() + 8
    while time.monotonic() < end:
        seen.append(learned(settings))
        time.sleep(0.2)
    assert seen == sorted(seen), f"two models take turns on the channel: {seen}"
    holders = [w for w in workers if HOLDING in log_of(w)]
    assert len(holders) == 1, [w.output() for w in workers]
    holder, other = holders[0], next(w for w in workers if w is not holders[0])
    # The holder leaves the raw partitions to the other worker (``stream.runtime.lighter``).
    raw = settings.partitions
    wait_for(lambda: share(holder) == (1, 0) and share(other) == (0, raw), 60,
             "the holder to leave every raw partition to the other")  # fmt: skip

    # Kill the holder without a chance to hand over: the other starts from its last checkpoint.
    before = learned(settings)
    holder.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: HOLDING in log_of(other) or not other.alive(), 60, "the other to take over")
    assert other.alive(), other.output()
    took_s = time.monotonic() - killed_at
    assert took_s < 40, f"takeover took {took_s:.0f}s"
    # Alone, the new holder validates every raw partition again.
    wait_for(lambda: share(other) == (1, raw), 60, "the survivor to validate them all")

    asyncio.run(produce(settings, requests[len(requests) // 2 :]))
    resumed = time.monotonic()
    wait_for(lambda: learned(settings) > before, 60, "the new holder's learning")
    # Rebuilt from zero it would have restarted below ``before`` first: it went on instead.
    after = []
    while time.monotonic() < resumed + 3:
        after.append(learned(settings))
        time.sleep(0.2)
    assert min(after) >= before * 0.9 and after == sorted(after), (before, after)
    # The log names where it went on from: the checkpoint's offsets, not the start.
    resumed_from = log_of(other).split(HOLDING)[1].split("\n")[0]
    assert "from offsets {0: -1, 1: -1}" not in resumed_from, resumed_from

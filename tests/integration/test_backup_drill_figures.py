"""A drill shows the panel's figures again: a worker on the restored scratch stack counts
today's views, form starts and submits exactly as the simulation's ground truth says."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from dojo_pulse.simulation import generate
from stream.backup.create import create
from stream.backup.drill import drill
from stream.models.keys import Keys
from stream.settings import Settings
from stream.sketches.windows import day_start
from tests.integration.conftest import Proc, wait_for
from tests.integration.test_backup_roundtrip import caught_up
from tests.integration.test_ground_truth import produce, snapshot

pytestmark = pytest.mark.integration


def test_a_drill_runs_a_worker_on_the_restored_stack_and_its_figures_equal_the_truth(
    stack_settings: Settings, start: Callable[..., Proc], tmp_path: Path
) -> None:
    settings = replace(stack_settings, backup_dir=str(tmp_path / "backups"))
    now = int(time.time() * 1000)
    begin = max(now - 120_000, day_start(now) + 1)  # all of it today (UTC)
    requests, truth = generate(11, rate=20, duration_s=(now - begin) / 1000 - 10,
                               start_ms=begin, invalid_ratio=0.05)  # fmt: skip
    facts = truth.to_dict()
    views = sum(facts["page_views_by_url"].values())
    starts = sum(f["starts"] for f in facts["forms"].values())
    submits = sum(f["submits"] for f in facts["forms"].values())
    assert views > 100 and starts > 0 and submits > 0

    worker = start(["worker"], settings)
    asyncio.run(produce(settings, requests))
    caught_up(settings, worker, views)
    # The learner publishes the alerts channel as its own part (the scheduler keeps another).
    parts = Keys.of(settings).snapshot_parts("alerts")
    wait_for(lambda: redis.Redis.from_url(settings.redis_url).hexists(parts, "learn_online"), 60,
             "the learner's part of the alerts")  # fmt: skip
    assert snapshot(settings, "alerts")["false_alert_rate"] is None
    worker.stop()
    directory, manifest = asyncio.run(create(settings))

    began = time.monotonic()
    report = asyncio.run(drill(settings, directory, None))
    assert report.passed, report.mismatches
    assert report.figures == [
        f"pass views today: restored {views}, backup {views}",
        f"pass form starts today: restored {starts}, backup {starts}",
        f"pass form submits today: restored {submits}, backup {submits}",
    ]
    assert time.monotonic() - began < 120 + manifest.records / 500 + 120  # bounded

"""A running worker analyses experiments with the designs published on ``dojo.content``.

The content service publishes a definition in a real store and its messages go to the real
``dojo.content``; the worker, whose store is unreachable on purpose, must still show the
published control, weights and primary metric (not the guessed ones: variants in name
order, equal weights, any goal), and follow an edit as soon as it is published.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dojo_pulse.simulation import generate
from stream.content import ContentService
from stream.content.messages import Outbox
from stream.experiments.definition import EXPERIMENT
from stream.secret import Secret
from stream.settings import Settings
from stream.store.engine import open_store
from tests.integration.conftest import Proc, wait_for
from tests.integration.test_ground_truth import produce, snapshot
from tests.integration.test_learner_catalogue import deliver

pytestmark = pytest.mark.integration

CTA = {"key": "cta_colour", "title": "Button colour", "unit": "visitor", "status": "running",
       "variants": "orange: 30, blue: 70", "primary": "goal:newsletter"}  # fmt: skip


def experiment(settings: Settings) -> dict[str, Any]:
    found = [e for e in snapshot(settings, "experiments").get("experiments", [])
             if e["key"] == "cta_colour"]  # fmt: skip
    return found[0] if found else {}


def test_the_worker_follows_published_designs_without_reading_the_store(
    stack_settings: Settings, start: Callable[..., Proc], tmp_path: Path
) -> None:
    store = replace(stack_settings, database_url=Secret(f"sqlite:///{tmp_path / 'pulse.db'}"))
    outbox = Outbox()
    service = ContentService(open_store(store), outbox, settings=store)
    service.create(EXPERIMENT.name, CTA, "test")  # importing it registered the type
    service.publish("experiment:cta_colour")
    asyncio.run(deliver(store, outbox))

    away = Secret("postgresql://nobody:pw@127.0.0.1:1/none")  # the worker never needs it
    settings = replace(stack_settings, database_url=away, agents=("validate", "experiments"))
    now = int(time.time() * 1000)
    requests, _ = generate(5, rate=60, duration_s=120, start_ms=now - 125_000, experiments=True)
    worker = start(["worker"], settings)
    asyncio.run(produce(settings, requests[: len(requests) // 2]))
    wait_for(lambda: bool(experiment(settings)) or not worker.alive(), 120, "cta_colour figures")
    assert worker.alive(), worker.output()
    got = experiment(settings)
    assert got["primary"] == "goal:newsletter" and got["running"] is True
    assert [(v["name"], v["weight"]) for v in got["variants"]] == [("orange", 0.3), ("blue", 0.7)]

    paused = CTA | {"status": "paused", "primary": "goal:*"}
    service.update("experiment:cta_colour", paused, 1, "test")
    service.publish("experiment:cta_colour")
    asyncio.run(deliver(store, outbox))
    asyncio.run(produce(settings, requests[len(requests) // 2 :]))  # a snapshot follows events
    wait_for(
        lambda: experiment(settings).get("running") is False or not worker.alive(),
        60,
        "the paused definition",
    )
    assert experiment(settings)["primary"] == "goal:*"
    assert worker.alive(), worker.output()

"""docs/topics.md and the records on the topics must not drift apart."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import faust
import pytest

from stream.app import metrics
from stream.models import DeadLetter, Event, EventBatch, EventBundle, RawBatch
from stream.settings import Settings
from stream.topics import topic_specs

DOC = Path(__file__).parents[2] / "docs" / "topics.md"


def documented() -> dict[str, list[set[str]]]:
    """Section title -> the field sets of its tables, in order."""
    sections: dict[str, list[set[str]]] = {}
    current: list[set[str]] | None = None
    table: set[str] | None = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"## `(.+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
            table = None
            continue
        row = re.match(r"\| `([a-z_0-9]+)` \|", line)
        if row and current is not None:
            if table is None:
                table = set()
                current.append(table)
            table.add(row.group(1))
        elif not line.startswith("|"):
            table = None
    return sections


def fields(record: type[faust.Record]) -> set[str]:
    return set(record._options.fields)


@pytest.mark.parametrize(
    ("topic", "records"),
    [
        ("dojo.events.raw", [RawBatch]),
        ("dojo.events", [EventBundle, EventBatch, Event]),
        ("dojo.events.dlq", [DeadLetter]),
    ],
)
def test_record_topics_match_their_records(topic: str, records: list[type[faust.Record]]) -> None:
    assert documented()[topic] == [fields(r) for r in records]


def sample_batch(now: int) -> dict[str, Any]:
    def event(n: int, kind: str, props: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": f"e000000{n}", "type": kind, "ts": now, "session_id": "s0000001",
                "url": "/", "props": props, "referrer": ""}  # fmt: skip

    events = [
        event(1, "page_view", {}),
        event(2, "form_start", {"form_id": "registration"}),
        event(3, "web_vital", {"name": "LCP", "value": 900}),
    ]
    return {
        "session_id": "s0000001",
        "visitor_id": "v1",
        "device": "mobile",
        "received_at": now,
        "events": events,
    }


@pytest.mark.parametrize("metric", metrics(Settings()), ids=lambda m: m.channel)
def test_metric_topics_match_their_snapshots(metric: Any) -> None:
    now = int(time.time() * 1000)
    state = metric.new()
    state.apply(sample_batch(now), now)
    expected = {"ts", *state.snapshot(now)}
    if hasattr(state, "windows"):
        expected.add("windows")
    assert documented()[f"dojo.metrics.{metric.channel}"] == [expected]


def test_engagement_scores_match_the_learner() -> None:
    from stream.learning.engagement import Engagement

    now = int(time.time() * 1000)
    [record] = Engagement().apply(sample_batch(now), now)
    assert documented()["dojo.scores.engagement"] == [set(record)]


def test_alerts_match_the_detector() -> None:
    import random

    from stream.learning.minute_features import LATENESS_MS
    from stream.learning.state import LearningState
    from stream.sketches.windows import MINUTE_MS
    from tests.unit.test_learning import START, minute_batches  # a steady run, then a spike

    rng, state, alerts = random.Random(7), LearningState(), []
    for minute, views in enumerate([60] * 60 + [400]):
        for batch in minute_batches(minute, views, rng):
            state.apply(batch, batch["received_at"])
        alerts += state.watch(START + (minute + 1) * MINUTE_MS + LATENESS_MS, {})
    assert alerts
    assert documented()["dojo.alerts"] == [set(alerts[0])]


def test_every_topic_has_a_section() -> None:
    sections = documented()
    for spec in topic_specs(Settings()):
        assert spec.name in sections, f"{spec.name} is not documented in docs/topics.md"

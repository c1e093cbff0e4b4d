"""The registration funnel per dojo event: in order, once per session, across partitions."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

from stream.metrics.dojo import DojoState
from stream.metrics.dojo_funnel import MAX_ITEMS, STEPS, Funnels, step_of
from stream.sketches.windows import DAY_MS, MINUTE_MS
from tests.unit.test_dojo_metrics import START, batches, run  # noqa: F401 (fixture)


def ev(kind: str, url: str, ts: int = START, **props: Any) -> dict[str, Any]:
    return {"type": kind, "ts": ts, "url": url, "referrer": "", "props": props}


def batch(sid: str, *events: dict[str, Any]) -> dict[str, Any]:
    return {"session_id": sid, "visitor_id": "v", "received_at": START, "events": list(events)}


PAGE, REGISTER = "/events/scratch", "/events/scratch/register"
BOOKED = ev("registration", REGISTER, dojo_event_id="event:scratch", tickets=2)


def counts(funnels: Funnels) -> list[int]:
    [row] = funnels.rows({"event:scratch": "Scratch"})
    return [step["sessions"] for step in row["steps"]]


def test_each_step_counts_once_per_session_and_only_after_the_one_before() -> None:
    f = Funnels()
    f.apply(batch("all", ev("page_view", PAGE), ev("page_view", REGISTER),
                  ev("form_submit", REGISTER, form_id="registration"), BOOKED))  # fmt: skip
    f.apply(batch("all", ev("page_view", PAGE), ev("page_view", REGISTER)))  # again: once
    f.apply(batch("two", ev("page_view", PAGE)))
    f.apply(batch("two", ev("page_view", REGISTER)))  # a later batch of the same session
    f.apply(batch("skips", ev("page_view", REGISTER), BOOKED))  # no event page first
    f.apply(batch("looks", ev("page_view", PAGE + "?utm_campaign=x")))
    assert counts(f) == [3, 2, 1, 1]
    [row] = f.rows({"event:scratch": "Scratch"})
    assert [s["step"] for s in row["steps"]] == list(STEPS)
    assert [s["share"] for s in row["steps"]] == [
        1.0,
        round(2 / 3, 4),
        round(1 / 3, 4),
        round(1 / 3, 4),
    ]


def test_merged_partitions_checkpoints_and_the_simulated_funnel_agree(
    run: tuple[dict[str, Any], list[DojoState]],  # noqa: F811
) -> None:
    truth, parts = run
    merged = reduce(lambda a, b: a.merge(b), parts)
    restored = reduce(lambda a, b: a.merge(b), [DojoState.from_bytes(p.to_bytes()) for p in parts])
    assert restored.funnels.steps == merged.funnels.steps
    viewed: dict[str, set[str]] = {}
    for b in batches():  # step 0 is every session that opened the event's page
        for e in b["events"]:
            if e["type"] == "page_view" and step_of(e) is not None and step_of(e)[1] == 0:  # type: ignore[index]
                viewed.setdefault(step_of(e)[0], set()).add(b["session_id"])  # type: ignore[index]
    assert {k: row[0] for k, row in merged.funnels.steps.items() if row[0]} == {
        k: len(v) for k, v in viewed.items()
    }
    for event_id, row in merged.funnels.steps.items():
        assert row[0] >= row[1] >= row[2] >= row[3]
        assert row[3] <= truth["events"].get(event_id, {}).get("registrations", 0)
    assert sum(row[3] for row in merged.funnels.steps.values()) > 0


@pytest.mark.parametrize(
    "event",
    [ev("page_view", "/events"), ev("page_view", "/events/"), ev("page_view", "/events/a/b"),
     ev("form_submit", PAGE), ev("click", REGISTER), ev("page_view", "/resources/scratch"),
     ev("page_view", "/events//register"), ev("form_submit", "/blog/x/register")],
)  # fmt: skip
def test_other_pages_are_no_step(event: dict[str, Any]) -> None:
    assert step_of(event) is None


def test_unpublished_slugs_are_not_shown_and_the_number_of_events_is_bounded() -> None:
    f = Funnels()
    for n in range(MAX_ITEMS + 20):
        f.apply(batch(f"s{n}", ev("page_view", f"/events/<i>{n}")))
    assert len(f.steps) == MAX_ITEMS
    assert f.rows({}) == [] and f.rows({"event:<i>0": "x"})[0]["steps"][0]["sessions"] == 1


def test_idle_sessions_and_old_events_are_forgotten() -> None:
    f = Funnels()
    f.apply(batch("s", ev("page_view", PAGE)))
    f.expire(START + 31 * MINUTE_MS)
    assert f.live == {} and counts(f)[0] == 1
    f.apply(batch("s", ev("page_view", REGISTER, ts=START + 40 * MINUTE_MS)))
    assert counts(f)[1] == 0  # a new session: it never saw the event page
    f.expire(START + 401 * DAY_MS)
    assert f.steps == {}

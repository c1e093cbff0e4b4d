"""Closed-minute tallies of every metric state, and what sends them to ``history.minutes``."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.learning.quality_minutes import QualityMinutes
from stream.metrics.forms import FormsState
from stream.metrics.funnel_config import load_funnels
from stream.metrics.funnels import FunnelsState
from stream.metrics.heatmaps import HeatmapsState
from stream.metrics.journeys import JourneysState
from stream.metrics.pipeline_minutes import PipelineMinutes
from stream.metrics.traffic import TrafficState
from stream.metrics.vitals import VitalsState
from stream.runtime.minutes_out import (
    MinuteSource,
    MinutesOut,
    minute_key,
    minute_record,
    read_minute_record,
)
from stream.runtime.rollup import Rollup
from stream.settings import Settings
from stream.sketches.tally import TallyError
from stream.sketches.windows import DAY_MS, HOUR_MS, MINUTE_MS
from stream.topics import topic_specs
from tests.unit.checkpoint_states import LEGACY
from tests.unit.test_topics_doc import documented

T0 = 1_764_028_800_000  # a UTC midnight
M0 = T0 + DAY_MS // 2  # noon: the minute under test
M1 = M0 + MINUTE_MS
CLOSE = M0 + 5 * MINUTE_MS  # an event here closes M0 and M1 (lateness two minutes)
REG = {"form_id": "registration"}
IDS = (
    "visitor-alice-7f3a",
    "visitor-bob-91c2",
    "visitor-carol-5e",
    "session-alice-0001",
    "session-bob-0002",
    "session-carol-0003",
)


def ev(kind: str, ts: int, url: str = "/", sid: str = "", **props: Any) -> dict[str, Any]:
    return {"event_id": f"e{ts}{kind}{url}", "type": kind, "ts": ts, "session_id": sid,
            "url": url, "props": props, "referrer": ""}  # fmt: skip


def batch(sid: str, visitor: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    for e in events:
        e["session_id"] = sid
    return {"session_id": sid, "visitor_id": visitor, "device": "mobile",
            "received_at": events[-1]["ts"], "events": events}  # fmt: skip


def fold(state: Any, batches: list[dict[str, Any]]) -> Any:
    for b in batches:
        state.apply(b, b["received_at"])
    return state


def closer() -> dict[str, Any]:
    return batch("session-clock-0009", "visitor-clock", [ev("page_leave", CLOSE, scroll_depth=0)])


def site_visits() -> list[dict[str, Any]]:
    """In M0 Alice views two pages, Bob one and fills a form, Carol one (a bounce)."""
    alice = batch("session-alice-0001", "visitor-alice-7f3a", [
        ev("page_view", M0 + 1_000, "/"), ev("page_view", M0 + 2_000, "/events"),
        ev("form_start", M0 + 3_000, "/events", **REG),
        ev("form_submit", M0 + 9_000, "/events", **REG),
        ev("web_vital", M0 + 4_000, "/", name="LCP", value=1200.0),
        ev("web_vital", M0 + 4_500, "/", name="LCP", value=3000.0),
        ev("click", M0 + 5_000, "/events", x=0.5, y=0.5, viewport_w=390),
        ev("scroll", M0 + 6_000, "/events", depth=0.5),
    ])  # fmt: skip
    bob = batch("session-bob-0002", "visitor-bob-91c2", [
        ev("page_view", M0 + 10_000, "/"), ev("web_vital", M0 + 11_000, "/", name="LCP",
                                              value=5000.0),
        ev("form_start", M0 + 12_000, "/", form_id="contact"),
        ev("form_abandon", M0 + 13_000, "/", form_id="contact"),
    ])  # fmt: skip
    bob_later = batch(
        "session-bob-0002",
        "visitor-bob-91c2",
        [
            ev("click", M1 + 1_000, "/", x=0.1, y=0.1, viewport_w=1300),
        ],
    )
    carol = batch("session-carol-0003", "visitor-carol-5e", [ev("page_view", M0 + 20_000, "/")])
    return [alice, bob, carol, bob_later, closer()]


STATES: dict[str, Any] = {
    "traffic": lambda: TrafficState(["https://dojo.example"]),
    "forms": FormsState,
    "vitals": VitalsState,
    "funnels": lambda: FunnelsState(load_funnels()),
    "journeys": JourneysState,
    "heatmaps": HeatmapsState,
}
TRUTH: dict[str, dict[str, float | None]] = {
    "traffic": {"views": 4, "sessions_started": 3, "bounces": 1, "visitors": 3, "sessions": 3,
                "pages./": 3, "pages./events": 1},
    "forms": {"registration.starts": 1, "registration.submits": 1, "registration.abandons": 0,
              "contact.starts": 1, "contact.submits": 0, "contact.abandons": 1},
    "vitals": {"LCP.n": 3, "LCP.good": 1, "LCP.needs": 1, "LCP.poor": 1},
    "funnels": {"registration.0": 3, "registration.1": 1, "registration.2": 0,
                "registration.3": 0, "registration.4": 0},
    "journeys": {"entries": 3, "transitions": 1, "exits": 0, "loops": 0, "sessions_ended": 0,
                 "path_views": 0},
    "heatmaps": {"clicks": 1, "scrolls": 1, "rage": 0, "clicks./events": 1},
}  # fmt: skip


@pytest.mark.parametrize("kind", list(STATES))
def test_a_closed_minute_tallies_what_was_counted_by_hand(kind: str) -> None:
    state = fold(STATES[kind](), site_visits())
    assert state.closed_minutes()[:1] == [M0]
    summary = state.minute_tally(M0).summary()
    assert {name: summary[name] for name in TRUTH[kind]} == TRUTH[kind]
    assert state.minute_tally(M0 + 2 * MINUTE_MS) is None  # nothing held there
    assert CLOSE - CLOSE % MINUTE_MS not in state.closed_minutes()  # the newest is open


def test_vitals_quantiles_and_traffic_uniques_are_sketches() -> None:
    vitals = fold(VitalsState(), site_visits()).minute_tally(M0)
    assert vitals.quantiles["LCP"].count == 3
    assert vitals.quantiles["LCP"].quantile(0.5) == pytest.approx(3000, rel=0.02)
    traffic = fold(STATES["traffic"](), site_visits()).minute_tally(M0)
    assert set(traffic.uniques) == {"visitors", "sessions"}
    # Mergeable: the same visitors in another minute are one union, never a sum.
    assert traffic.merge(traffic).summary()["visitors"] == 3


@pytest.mark.parametrize("kind", list(STATES))
def test_every_state_is_a_minute_source_the_aggregator_collects(kind: str) -> None:
    state = fold(STATES[kind](), site_visits())
    assert isinstance(state, MinuteSource)
    starts = [read_minute_record(v).start for _, v in MinutesOut(kind).collect(1, state)]
    assert starts == [m for m in state.closed_minutes() if state.minute_tally(m) is not None]
    assert starts[:1] == [M0]


@pytest.mark.parametrize("kind", list(STATES))
def test_nothing_personal_in_the_wire_form(kind: str) -> None:
    state = fold(STATES[kind](), site_visits())
    for start in state.closed_minutes():
        key, value = minute_record(kind, start, 3, state.minute_tally(start))
        for secret in IDS:
            assert secret.encode() not in value and secret.encode() not in key


@pytest.mark.parametrize("kind", list(STATES))
def test_checkpoint_round_trip_keeps_minutes_and_their_clock(kind: str) -> None:
    state = fold(STATES[kind](), site_visits())
    back = type(state).from_bytes(state.to_bytes())
    assert back.closed_minutes() == state.closed_minutes()
    for start in state.closed_minutes():
        assert back.minute_tally(start).summary() == state.minute_tally(start).summary()


@pytest.mark.parametrize("kind", list(STATES))
def test_a_v1_checkpoint_reads_with_its_minutes_open(kind: str) -> None:
    load = STATES[kind]().from_bytes
    if kind == "funnels":
        load = lambda data: FunnelsState.from_bytes(data, load_funnels())  # noqa: E731
    state = load((LEGACY / f"{kind}.v1").read_bytes())
    if kind == "traffic":  # traffic always kept its clock; v1 minutes lack session facts
        assert state.minute_tally(min(state.minutes)).counts["sessions_started"] == 0
    else:
        assert state.closed_minutes() == []  # v1 kept no clock: nothing is closed yet
    if kind in ("vitals", "heatmaps"):  # v1 kept no minutes at all
        assert all(state.minute_tally(m) is None for m in range(M0, M1, MINUTE_MS))
    # Folding on, the restored state's minutes close and tally like any other.
    fold(state, site_visits())
    assert M0 in state.closed_minutes()


def test_a_bounce_undone_later_changes_a_closed_minute_and_sends_it_again() -> None:
    state = fold(STATES["traffic"](), site_visits())
    out = MinutesOut("traffic")
    first = out.collect(2, state)
    assert [read_minute_record(v).start for _, v in first] == [M0, M1]
    assert out.collect(2, state) == []  # nothing changed: nothing again
    later = batch("session-carol-0003", "visitor-carol-5e", [ev("page_view", CLOSE, "/a")])
    state.apply(later, CLOSE)
    again = out.collect(2, state)
    assert [read_minute_record(v).start for _, v in again] == [M0]
    summary = read_minute_record(again[0][1]).tally.summary()
    assert summary["bounces"] == 0 and summary["views"] == 4


def test_a_restored_state_sends_every_closed_minute_again_with_the_same_values() -> None:
    state = fold(STATES["traffic"](), site_visits())
    out = MinutesOut("traffic")
    sent = dict(out.collect(0, state))
    restored = TrafficState.from_bytes(state.to_bytes())
    assert dict(out.collect(0, restored)) == sent
    out.forget([0])
    assert dict(out.collect(0, restored)) == sent


def test_a_backfill_spanning_hours_sends_every_minute_before_expiry_drops_it() -> None:
    """One take of three hours of past event time; expiry runs on the stream clock, so the
    past day is held until the stream reaches today, and every closed minute is sent once."""
    rollup: Rollup[Any] = Rollup(STATES["traffic"], TrafficState.from_bytes)
    rollup.restore(0, None)
    past = T0 - 2 * DAY_MS
    views = [ev("page_view", past + n * 20_000, "/") for n in range(3 * HOUR_MS // 20_000)]
    batches = [batch(f"session-{n:04d}", f"visitor-{n}", [e]) for n, e in enumerate(views)]
    rollup.apply(0, 0, batches, T0)
    out, records = MinutesOut("traffic"), []
    rollup.checkpoints(T0, lambda part, state: records.extend(out.collect(part, state)))
    sent = [read_minute_record(v) for _, v in records]
    assert len(sent) == 3 * 60 - 3  # every minute but the newest three (still open)
    assert sum(r.tally.counts["views"] for r in sent) == len(views) - 9
    assert len(rollup.slots[0].state.minutes) == 3 * 60  # the stream is still on that day
    # The stream reaches today: the past minutes close, are sent, and only then expire.
    rollup.apply(0, 1, [batch("session-now", "visitor-now", [ev("page_view", T0, "/")])], T0)
    rollup.checkpoints(T0, lambda part, state: records.extend(out.collect(part, state)))
    sent = [read_minute_record(v) for _, v in records]
    assert sum(r.tally.counts["views"] for r in sent if r.start < T0) == len(views)
    assert len({r.start for r in sent}) == len(sent)
    assert sorted(rollup.slots[0].state.minutes) == [T0]


def test_record_key_and_value_follow_the_contract() -> None:
    state = fold(STATES["traffic"](), site_visits())
    key, value = minute_record("traffic", M0, 2, state.minute_tally(M0))
    assert key == minute_key("traffic", M0, 2) == f"traffic|{M0}|2".encode()
    raw = orjson.loads(value)
    assert set(raw) == {"channel", "start", "part", "tally"}
    assert (raw["channel"], raw["start"], raw["part"]) == ("traffic", M0, 2)
    assert read_minute_record(value).tally.summary() == state.minute_tally(M0).summary()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(["channel", "start", "part", "tally"]), value=JSON)
def test_hostile_records_are_refused_or_read_never_crash(field: str, value: Any) -> None:
    good = orjson.loads(minute_record("forms", M0, 1, fold(FormsState(), site_visits())
                                      .minute_tally(M0))[1])  # fmt: skip
    good[field] = value
    try:
        record = read_minute_record(json.dumps(good).encode())  # any int, NaN too
    except TallyError:
        return
    assert isinstance(record.channel, str) and record.start >= 0 and record.part >= 0


@pytest.mark.parametrize(
    "value",
    [None, b"", b"\xff\xfe", b"[1]", b'"x"', b"{", b'{"channel": "a|b", "start": 1, "part": 0}',
     b'{"channel": "a", "start": -1, "part": 0, "tally": {}}',
     b'{"channel": "a", "start": true, "part": 0, "tally": {}}',
     b'{"channel": "a", "start": 1, "part": 0, "tally": {"uniques": {"v": "!!"}}}',
     b'{"channel": "' + b"a" * 100_000 + b'", "start": 1, "part": 0, "tally": []}'],
)  # fmt: skip
def test_malformed_records_are_one_clear_error(value: bytes | None) -> None:
    with pytest.raises(TallyError):
        read_minute_record(value)


def test_pipeline_counts_per_raw_partition_and_received_minute() -> None:
    counts = PipelineMinutes()
    counts.add(0, 0, M0 + 1_000, 3, ["schema", "bot"])
    counts.add(0, 1, M0 + 2_000, 2, [])
    counts.add(1, 40, M0 + 3_000, 5, [])  # read from offset 40: M0 may lack earlier messages
    counts.add(1, 41, M1 + 3_000, 1, ["size"])
    counts.add(0, 2, 0, 0, ["malformed"])  # unreadable: no time, the newest minute has it
    assert counts.drain() == []  # nothing closed yet
    counts.add(0, 3, CLOSE, 1, [])
    counts.add(1, 42, CLOSE, 1, [])
    got = {(p, s): t.counts for p, s, t in counts.drain()}
    assert got == {
        (0, M0): {"accepted": 5, "dead.schema": 1, "dead.bot": 1, "dead.malformed": 1},
        (1, M1): {"accepted": 1, "dead.size": 1},
    }
    assert counts.drain() == []  # handed over once
    counts.add(0, 4, M0 + 5_000, 7, [])  # late: counted in the newest minute, not M0 again
    assert all(s == CLOSE - CLOSE % MINUTE_MS for s in counts.parts[0].minutes)


def test_learning_quality_grows_in_the_newest_minute_and_closes_once() -> None:
    quality = QualityMinutes()
    quality.observe(M0 + 1_000, M0 + 1_000, {"shown": 2, "hits": 1, "labelled": 0})
    quality.observe(M0 + 2_000, M0 + 2_000, {"shown": 5, "hits": 1, "labelled": 1})
    quality.observe(M1 + 1_000, M1 + 1_000, {"shown": 6, "hits": 2, "labelled": 1})
    quality.observe(CLOSE, CLOSE, {"shown": 6, "hits": 2, "labelled": 1})
    got = {start: tally.counts for start, tally in quality.drain()}
    assert got == {M0: {"shown": 5, "hits": 1, "labelled": 1}, M1: {"shown": 1, "hits": 1}}
    assert quality.drain() == []


def test_the_topic_and_its_section() -> None:
    s = Settings(history_minutes_days=3)
    [spec] = [t for t in topic_specs(s) if t.name == "dojo.history.minutes"]
    assert spec.partitions == 1
    assert spec.config()["cleanup.policy"] == "compact,delete"
    assert spec.config()["retention.ms"] == str(3 * DAY_MS)
    assert documented()["dojo.history.minutes"] == [{"channel", "start", "part", "tally"}]

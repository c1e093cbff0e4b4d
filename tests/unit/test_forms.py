"""Form funnels: exact counts, completion time, drop-off, merge and checkpoints."""

from __future__ import annotations

import random
from collections import Counter
from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.forms import FormsState
from stream.sketches.windows import DAY_MS, MINUTE_MS

T0 = 1_764_028_800_000  # a UTC midnight
NOON = T0 + DAY_MS // 2
FORMS = ["register", "contact", "volunteer"]
FIELDS = ["name", "email_ok", "age", "dojo", "consent"]


def ev(kind: str, ts: int, sid: str, **props: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{ts}",
        "type": kind,
        "ts": ts,
        "session_id": sid,
        "url": "/f",
        "props": props,
        "referrer": "",
    }


def batch(sid: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "session_id": sid,
        "visitor_id": "v-" + sid,
        "device": "desktop",
        "received_at": events[-1]["ts"],
        "events": events,
    }


def simulate(
    rng: random.Random, sessions: int, start: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Random form sessions plus the exact expected counts per form."""
    batches = []
    want: dict[str, dict[str, Any]] = {
        f: {
            "starts": 0,
            "submits": 0,
            "abandons": 0,
            "dropoff": Counter(),
            "fields": Counter(),
            "durations": [],
        }
        for f in FORMS
    }
    for n in range(sessions):
        sid = f"form-session-{n:05d}"
        form = rng.choice(FORMS)
        ts = start + rng.randrange(40 * MINUTE_MS)
        evs = [ev("page_view", ts, sid), ev("form_start", ts, sid, form_id=form)]
        w = want[form]
        w["starts"] += 1
        t0 = ts
        last = ""
        for _ in range(rng.randint(0, 6)):
            ts += rng.randrange(100, 5000)
            field, action = rng.choice(FIELDS), rng.choice(["focus", "blur", "change", "error"])
            evs.append(ev("form_field", ts, sid, form_id=form, field=field, action=action))
            w["fields"][(field, action)] += 1
            last = field
        ts += rng.randrange(100, 5000)
        outcome = rng.choice(["submit", "submit_timed", "abandon", "none"])
        if outcome.startswith("submit"):
            w["submits"] += 1
            if outcome == "submit_timed":
                evs.append(ev("form_submit", ts, sid, form_id=form, duration_ms=1234))
                w["durations"].append(1234)
            else:
                evs.append(ev("form_submit", ts, sid, form_id=form))
                w["durations"].append(ts - t0)
        elif outcome == "abandon":
            w["abandons"] += 1
            evs.append(ev("form_abandon", ts, sid, form_id=form))
            if last:
                w["dropoff"][last] += 1
        cut = rng.randint(1, len(evs))
        batches.append(batch(sid, evs[:cut]))
        if cut < len(evs):
            batches.append(batch(sid, evs[cut:]))
    batches.sort(key=lambda b: b["received_at"])
    return batches, want


def build(batches: list[dict[str, Any]]) -> FormsState:
    state = FormsState()
    for b in batches:
        state.apply(b, b["received_at"])
    return state


def _lower_rank(values: list[int], q: float) -> int:
    return sorted(values)[int(q * (len(values) - 1))]


def test_counts_are_exact() -> None:
    batches, want = simulate(random.Random(2), 300, NOON - 45 * MINUTE_MS)
    snap = build(batches).snapshot(NOON)
    by_id = {f["form_id"]: f for f in snap["forms"]}
    assert set(by_id) == set(FORMS)
    for form_id, w in want.items():
        got = by_id[form_id]
        assert (got["starts"], got["submits"], got["abandons"]) == (
            w["starts"],
            w["submits"],
            w["abandons"],
        )
        assert got["completion_rate"] == w["submits"] / w["starts"]
        assert got["dropoff"] == dict(w["dropoff"])
        top = max(w["dropoff"].items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0]]))[0]
        assert got["dropoff_field"] == top
        fields = {
            (name, a): n for name, acts in got["fields"].items() for a, n in acts.items() if n
        }
        assert fields == dict(w["fields"])
        for key, q in (("median_ms", 0.5), ("p90_ms", 0.9)):
            exact = _lower_rank(w["durations"], q)
            assert abs(got[key] - exact) <= 0.01 * exact + 1
        assert got["last_hour"] == {k: w[k] for k in ("starts", "submits", "abandons")}
    starts = [f["starts"] for f in snap["forms"]]
    assert starts == sorted(starts, reverse=True)


def test_time_to_complete_prefers_the_beacon_duration() -> None:
    s = FormsState()
    s.apply(batch("sess-timing", [ev("form_start", NOON, "sess-timing", form_id="register")]), NOON)
    s.apply(
        batch("sess-timing", [ev("form_submit", NOON + 30_000, "sess-timing", form_id="register")]),
        NOON,
    )
    s.apply(
        batch(
            "sess-timed2",
            [ev("form_submit", NOON, "sess-timed2", form_id="contact", duration_ms=8000)],
        ),
        NOON,
    )
    forms = {f["form_id"]: f for f in s.snapshot(NOON)["forms"]}
    assert abs(forms["register"]["median_ms"] - 30_000) <= 300
    assert abs(forms["contact"]["median_ms"] - 8000) <= 80
    assert forms["contact"]["completion_rate"] == 0.0  # no start seen: no rate above 1
    assert forms["register"]["completion_rate"] == 1.0


def test_dropoff_remembers_the_last_field_across_attempts() -> None:
    s = FormsState()
    sid = "sess-retry1"
    s.apply(
        batch(
            sid,
            [
                ev("form_start", NOON, sid, form_id="register"),
                ev("form_field", NOON + 1, sid, form_id="register", field="age", action="error"),
                ev("form_abandon", NOON + 2, sid, form_id="register"),
            ],
        ),
        NOON,
    )
    s.apply(
        batch(
            sid,
            [
                ev("form_start", NOON + 10, sid, form_id="register"),
                ev("form_abandon", NOON + 20, sid, form_id="register"),
            ],
        ),
        NOON,
    )
    (form,) = s.snapshot(NOON)["forms"]
    assert (form["starts"], form["abandons"], form["dropoff"]) == (2, 2, {"age": 2})
    assert form["fields"]["age"] == {"focus": 0, "blur": 0, "change": 0, "error": 1}


def test_abandon_without_fields_has_no_dropoff_field() -> None:
    s = FormsState()
    s.apply(
        batch(
            "sess-quit01",
            [
                ev("form_start", NOON, "sess-quit01", form_id="contact"),
                ev("form_abandon", NOON + 5, "sess-quit01", form_id="contact"),
            ],
        ),
        NOON,
    )
    (form,) = s.snapshot(NOON)["forms"]
    assert (form["abandons"], form["dropoff_field"], form["dropoff"]) == (1, None, {})
    assert form["median_ms"] is None


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 4), st.integers(1, 60))
def test_merge_of_partitions_equals_one_state(seed: int, partitions: int, sessions: int) -> None:
    batches, _ = simulate(random.Random(seed), sessions, NOON - 30 * MINUTE_MS)
    parts: list[list[dict[str, Any]]] = [[] for _ in range(partitions)]
    for b in batches:
        parts[hash(b["session_id"]) % partitions].append(b)
    merged = reduce(FormsState.merge, [build(p) for p in parts])
    shown = reduce(lambda a, b: a.merge(b, sessions=False), [build(p) for p in parts])
    whole = build(batches)
    assert merged.snapshot(NOON) == whole.snapshot(NOON) == shown.snapshot(NOON)
    assert merged.progress == whole.progress


def test_round_trip_keeps_snapshot_and_progress() -> None:
    batches, _ = simulate(random.Random(4), 100, NOON - 30 * MINUTE_MS)
    half = len(batches) // 2
    state = build(batches[:half])
    back = FormsState.from_bytes(state.to_bytes())
    assert back.snapshot(NOON) == state.snapshot(NOON)
    for b in batches[half:]:
        state.apply(b, NOON)
        back.apply(b, NOON)
    assert back.snapshot(NOON) == state.snapshot(NOON)


def test_expire_never_changes_todays_numbers() -> None:
    batches, _ = simulate(random.Random(6), 100, T0 + 3_600_000)
    state = build(batches)
    later = T0 + 8 * 3_600_000
    before = state.snapshot(later)
    state.expire(later)
    assert state.snapshot(later) == before
    assert state.progress == {}
    assert before["forms"][0]["last_hour"] == {"starts": 0, "submits": 0, "abandons": 0}
    state.expire(later + DAY_MS * 2)
    assert state.snapshot(later + DAY_MS * 2) == {"forms": []}

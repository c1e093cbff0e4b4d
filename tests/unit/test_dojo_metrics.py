"""The dojo state: exact against the simulator's truth across partitions, merges and checkpoints."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

from dojo_pulse.simulation import generate
from stream.metrics.dojo import DojoState, resource_of, source_of
from stream.metrics.dojo_rows import TREND_HALF_LIFE_H
from stream.sketches.codec import CheckpointError
from stream.sketches.windows import DAY_MS, HOUR_MS, MINUTE_MS

START = 1_764_072_000_000  # noon UTC
DURATION_S = 600
NOW = START + DURATION_S * 1000
PARTITIONS = 3


def batches(seed: int = 5) -> list[dict[str, Any]]:
    requests, _ = generate(seed, rate=60, duration_s=DURATION_S, start_ms=START)
    out = []
    for r in requests:
        events = [e for e, reason in zip(r.body["events"], r.expect, strict=True) if not reason]
        if r.bot or not events:
            continue
        out.append({"session_id": r.session_id, "visitor_id": r.visitor_id,
                    "received_at": START + int(r.at_s * 1000), "events": events})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def run() -> tuple[dict[str, Any], list[DojoState]]:
    _, truth = generate(5, rate=60, duration_s=DURATION_S, start_ms=START)
    parts = [DojoState() for _ in range(PARTITIONS)]
    for b in batches():
        parts[sum(b["session_id"].encode()) % PARTITIONS].apply(b, b["received_at"])
    return truth.to_dict()["dojo"], parts


def figures(state: DojoState) -> dict[str, Any]:
    snap = state.snapshot(NOW)
    keep = ("registrations", "tickets", "cancellations", "cancelled", "arrived", "walk_ins",
            "attended", "no_shows")  # fmt: skip
    return {
        "events": {row["id"]: {k: row[k] for k in keep} for row in snap["events"]},
        "resources": {
            row["id"]: {"views": row["views"], "downloads": row["downloads"]}
            for row in snap["resources"]
        },
        "sources": {
            name: {s["name"]: s["registrations"] for s in rows}
            for name, rows in snap["sources"].items()
        },
    }


def top10(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10])


def test_merged_partitions_equal_the_truth(run: tuple[dict[str, Any], list[DojoState]]) -> None:
    truth, parts = run
    got = figures(reduce(DojoState.merge, parts))
    assert got["events"] == truth["events"]
    assert got["resources"] == truth["resources"]
    assert got["sources"] == {name: top10(c) for name, c in truth["sources"].items()}
    assert any(row["walk_ins"] for row in got["events"].values())
    assert any(row["cancellations"] for row in got["events"].values())


def test_checkpoints_round_trip_to_the_same_figures(
    run: tuple[dict[str, Any], list[DojoState]],
) -> None:
    _, parts = run
    restored = [DojoState.from_bytes(p.to_bytes()) for p in parts]
    assert figures(reduce(DojoState.merge, restored)) == figures(reduce(DojoState.merge, parts))
    assert restored[0].sessions == parts[0].sessions


def test_a_checkpoint_of_another_state_is_refused() -> None:
    from stream.sketches import codec

    with pytest.raises(CheckpointError):
        DojoState.from_bytes(codec.encode("forms", 2, {}))


def test_curves_hold_net_tickets_per_day(run: tuple[dict[str, Any], list[DojoState]]) -> None:
    truth, parts = run
    rows = reduce(DojoState.merge, parts).snapshot(NOW)["events"]
    for row in rows:
        assert sum(row["by_day"].values()) == row["tickets"] - row["cancelled"]
        assert row["net_tickets"] == truth["events"][row["id"]]["tickets"] - truth["events"][
            row["id"]]["cancelled"]  # fmt: skip


def test_minutes_tally_what_the_totals_hold(run: tuple[dict[str, Any], list[DojoState]]) -> None:
    truth, parts = run
    merged = reduce(DojoState.merge, parts)
    total: dict[str, float] = {}
    for start in merged.minutes:
        tally = merged.minute_tally(start)
        assert tally is not None
        for name, n in tally.counts.items():
            total[name] = total.get(name, 0) + n
    events = truth["events"].values()
    assert total["tickets"] == sum(row["tickets"] for row in events)
    assert total["cancelled"] == sum(row["cancelled"] for row in events)
    assert total["walk_ins"] == sum(row["walk_ins"] for row in events)
    assert total["downloads"] == sum(row["downloads"] for row in truth["resources"].values())


def view(ts: int, url: str, referrer: str = "") -> dict[str, Any]:
    return {"type": "page_view", "ts": ts, "url": url, "referrer": referrer, "props": {}}


def one(session: str, ts: int, *events: dict[str, Any]) -> dict[str, Any]:
    return {"session_id": session, "visitor_id": f"v-{session}", "received_at": ts,
            "events": list(events)}  # fmt: skip


def test_a_registration_is_credited_to_its_sessions_entry_and_campaign() -> None:
    state = DojoState()
    entry = "/events/scratch?utm_source=newsletter&utm_campaign=december"
    state.apply(one("s1", START, view(START, entry, "https://mail.example.net/x")), START)
    reg = {"type": "registration", "ts": START + 5, "url": "/events/scratch/register",
           "referrer": "", "props": {"dojo_event_id": "event:scratch", "tickets": 2}}  # fmt: skip
    state.apply(one("s1", START + 5, view(START + 4, "/events"), reg), START + 5)
    sources = state.snapshot(START)["sources"]
    assert sources["entry"] == [{"name": "/events/scratch", "registrations": 1}]
    assert sources["referrer"] == [{"name": "mail.example.net", "registrations": 1}]
    assert sources["campaign"] == [{"name": "december", "registrations": 1}]


def test_sources_and_resources_parse_urls() -> None:
    assert (
        resource_of("https://dojo.example/resources/scratch-cards?x=1") == "resource:scratch-cards"
    )
    assert resource_of("/resources/") is None
    assert resource_of("/resources/a/b") is None
    assert source_of("/", "") == ("/", "(direct)", "(none)")


def test_trend_favours_recent_downloads() -> None:
    state = DojoState()
    old, new = START - 24 * HOUR_MS, START
    for ts, rid in ((old, "resource:old"), (old + 1, "resource:old"), (new, "resource:new")):
        dl = {"type": "resource_download", "ts": ts, "url": "/r", "referrer": "",
              "props": {"resource_id": rid}}  # fmt: skip
        state.apply(one(f"s{ts}", ts, dl), ts)
    rows = state.snapshot(START + HOUR_MS // 2)["resources"]
    assert [r["id"] for r in rows] == ["resource:new", "resource:old"]
    # Two downloads a day old weigh 2 * 3 * 0.5 ** (24 / half-life).
    assert rows[1]["trend"] == pytest.approx(6 * 0.5 ** (24 / TREND_HALF_LIFE_H), rel=0.05)


def test_expire_forgets_sessions_hours_and_stale_items() -> None:
    state = DojoState()
    dl = {"type": "resource_download", "ts": START, "url": "/r", "referrer": "",
          "props": {"resource_id": "resource:a"}}  # fmt: skip
    state.apply(one("s1", START, view(START, "/"), dl), START)
    state.expire(START + 3 * DAY_MS)
    assert state.sessions == {}
    assert state.hours == {}
    assert state.resources["resource:a"][:2] == [0, 1]  # totals stay for the school year
    state.expire(START + 500 * DAY_MS)
    assert state.resources == {}
    assert list(state.minutes) == [START]  # still open on the event clock: history needs it
    later = START + 10 * MINUTE_MS
    state.apply(one("s2", later, view(later, "/")), later)
    state.expire(later)
    assert list(state.minutes) == [START]  # closed now, but within the hour kept
    state.expire(later + 2 * 3_600_000)
    assert START not in state.minutes

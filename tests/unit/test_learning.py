"""The learning state: minute features into the anomaly detector, and one checkpoint for all."""

from __future__ import annotations

import pickle
import random
import re
import zlib
from typing import Any

import pytest

from stream.learning.engagement import Engagement
from stream.learning.learners import LIBRARY, MOVED
from stream.learning.minute_features import LATENESS_MS, MinuteFeatures
from stream.learning.state import COMPRESSED, LearningState
from stream.sketches.codec import CheckpointError, library_version
from stream.sketches.windows import MINUTE_MS
from tests.unit import visit_batches as visit

START = 1_795_000_000_000 - 1_795_000_000_000 % MINUTE_MS


def minute_batches(minute: int, views: int, rng: random.Random) -> list[dict[str, Any]]:
    """``views`` page views spread over sessions, all inside one minute."""
    out = []
    for i in range(views):
        session = f"s{minute}-{i // 3}"
        ts = START + minute * MINUTE_MS + rng.randrange(MINUTE_MS)
        event = {"event_id": f"e{minute:05d}{i:05d}", "type": "page_view", "ts": ts, "session_id": session,
                 "url": rng.choice(["/", "/events", "/learn"]), "props": {}, "referrer": ""}  # fmt: skip
        out.append({"session_id": session, "visitor_id": f"v{minute}-{i // 3}", "device": "mobile",
                    "received_at": ts, "events": [event]})  # fmt: skip
    return out


def test_minutes_close_after_lateness_and_silent_minutes_count_as_zero() -> None:
    features = MinuteFeatures()
    rng = random.Random(1)
    for batch in minute_batches(0, 5, rng) + minute_batches(3, 2, rng):
        features.add(batch)
    now = START + 4 * MINUTE_MS + LATENESS_MS
    closed = features.close(now)
    assert [start for start, _ in closed] == [START + m * MINUTE_MS for m in range(4)]
    assert [f["views"] for _, f in closed] == [5.0, 0.0, 0.0, 2.0]
    assert features.close(now) == []  # each minute is handed over once
    features.add(minute_batches(1, 4, rng)[0])  # too late for a judged minute
    assert features.minutes == {}


def test_spike_and_drop_are_alerted_within_two_minutes() -> None:
    rng = random.Random(7)
    state = LearningState()
    normal = 60
    timeline = [normal + rng.randint(-6, 6) for _ in range(120)] + [
        6 * normal,
        normal,
        normal,
        2,
        normal,
    ]
    alerts_at: dict[int, list[str]] = {}
    for minute, views in enumerate(timeline):
        for batch in minute_batches(minute, views, rng):
            state.apply(batch, batch["received_at"])
        now = START + (minute + 1) * MINUTE_MS + LATENESS_MS
        for alert in state.watch(now, {}):
            alerts_at.setdefault(minute, []).append(f"{alert['kind']}:{alert['metric']}")
    spike, drop = 120, 123
    assert any("spike:views" in a for m, a in alerts_at.items() if spike <= m <= spike + 1)
    assert any("drop:views" in a for m, a in alerts_at.items() if drop <= m <= drop + 1)
    assert not [m for m in alerts_at if m < spike], "steady traffic must not alert"
    reasons = state.snapshot(START)["alerts"]["alerts"]
    assert reasons and all(isinstance(a["reason"], str) and a["reason"] for a in reasons)


def five_minutes_learned(seed: int) -> LearningState:
    """A learning state that has seen five minutes of traffic and judged them."""
    rng = random.Random(seed)
    state = LearningState()
    for minute in range(5):
        for batch in minute_batches(minute, 20, rng):
            state.apply(batch, batch["received_at"])
    state.watch(START + 6 * MINUTE_MS + LATENESS_MS, {})
    return state


def assert_same_learning(back: LearningState, state: LearningState) -> None:
    now = START + 10 * MINUTE_MS
    assert back.snapshot(now) == state.snapshot(now)
    assert back.minutes.last_closed == state.minutes.last_closed
    assert back.recommender.recommend("v1-0", 5, now) == state.recommender.recommend("v1-0", 5, now)


def test_checkpoint_restores_every_learner() -> None:
    state = five_minutes_learned(3)
    assert_same_learning(LearningState.from_bytes(state.to_bytes()), state)


def before_the_move(obj: object) -> bytes:
    """``obj`` pickled as a checkpoint written before the modules moved would name its classes."""
    old = {new: old for old, new in MOVED.items()}
    # Protocol 2 names a class as text (b"c<module>\n<name>\n"), so a path can be swapped.
    return re.sub(
        rb"c(stream\.[\w.]+)\n",
        lambda m: b"c" + old.get(m[1].decode(), m[1].decode()).encode() + b"\n",
        pickle.dumps(obj, protocol=2),
    )


def test_a_checkpoint_written_before_the_modules_moved_still_restores() -> None:
    state = five_minutes_learned(4)
    learners = (state.engagement, state.recommender, state.segments, state.anomalies)
    parts = [before_the_move(x) for x in learners]
    parts.append(before_the_move((state.minutes, state.recent_alerts)))
    # The old paths are really in the bytes, and plain pickle no longer finds them.
    for path in (b"cstream.engagement\n", b"cstream.minute_features\n", b"cstream.learners\n"):
        assert any(path in part for part in parts), path
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(parts[0])
    assert_same_learning(LearningState.from_bytes(pickle.dumps(tuple(parts))), state)


def test_a_river_tagged_checkpoint_under_the_old_paths_restores_and_is_version_checked() -> None:
    state = five_minutes_learned(5)
    river = library_version(LIBRARY)
    learners = (state.engagement, state.recommender, state.segments, state.anomalies)
    # What checkpoint() wrote before the modules moved: (tag, river version, learner).
    parts = [before_the_move((LIBRARY, river, x)) for x in learners]
    parts.append(before_the_move((state.minutes, state.recent_alerts)))
    assert b"cstream.recommend\n" in parts[1] and river.encode() in parts[1]
    assert_same_learning(LearningState.from_bytes(pickle.dumps(tuple(parts))), state)
    # The version check still holds behind the path mapping, with hostile tags too.
    for wrote in ("0.1.0", "", "../../river\n"):
        older = before_the_move((LIBRARY, wrote, state.engagement))
        with pytest.raises(CheckpointError, match="written with river"):
            Engagement.from_bytes(older)
    with pytest.raises(TypeError, match="not Engagement"):
        Engagement.from_bytes(before_the_move((LIBRARY, river, state.segments)))


def test_scores_drain_once_with_each_sessions_newest() -> None:
    state = LearningState()
    t0, minute = visit.T0, visit.MINUTE
    first = [
        visit.batch("s-a", "v-a", visit.page(t0, "/events")),
        visit.batch("s-b", "v-b", visit.page(t0, "/")),
    ]
    later = visit.batch("s-a", "v-a", visit.page(t0 + 2 * minute, "/events/robot-rally"))
    for b in [*first, later]:
        state.apply(b, b["received_at"])
    scores = state.drain_scores()
    assert [s["session_id"] for s in scores] == ["s-a", "s-b"]
    assert scores[0]["ts"] == later["received_at"]  # the second batch's score, not the first's
    assert scores[0]["score"] > 0
    assert state.drain_scores() == []


def test_a_checkpoint_is_compressed_and_one_written_before_compression_restores() -> None:
    state = five_minutes_learned(6)
    blob = state.to_bytes()
    plain = zlib.decompress(blob[len(COMPRESSED) :])
    assert blob.startswith(COMPRESSED) and len(blob) < len(plain) / 2
    assert plain.startswith(b"\x80")  # a pickle, as every checkpoint before compression was
    assert_same_learning(LearningState.from_bytes(plain), state)
    assert_same_learning(LearningState.from_bytes(blob), state)


@pytest.mark.parametrize(
    "cut", [lambda b: b[:-1], lambda b: b[: len(COMPRESSED) + 10], lambda b: COMPRESSED,
            lambda b: COMPRESSED + b"\x00" * 64, lambda b: b[:8] + bytes(255 - x for x in b[8:])],
)  # fmt: skip
def test_a_damaged_compressed_checkpoint_is_refused(cut: Any) -> None:
    blob = five_minutes_learned(7).to_bytes()
    with pytest.raises(zlib.error):
        LearningState.from_bytes(cut(blob))

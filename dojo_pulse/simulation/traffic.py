"""Deterministic traffic: sessions placed on a timeline, cut into requests, faults mixed in."""

from __future__ import annotations

import gc
import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dojo_pulse.simulation import site
from dojo_pulse.simulation.beacon import Beacon
from dojo_pulse.simulation.door import DOOR_EVENTS, bookings, door
from dojo_pulse.simulation.faults import make_fault, pick_reason
from dojo_pulse.simulation.journey import crawl, visit
from dojo_pulse.simulation.truth import Truth
from dojo_pulse.simulation.visitors import Visitor, new_bot, new_visitor

BOT_SHARE = 0.03  # share of all events coming from crawlers
RETURNING = 0.25  # chance a session belongs to a visitor already seen in this run
# Sessions longer than this share of the run are compressed to fit, so every session is
# complete (a funnel never stops because the run ended) and the rate stays even.
MAX_SPAN = 0.9


@dataclass(frozen=True, slots=True)
class Request:
    """One beacon POST: when to send it (seconds from the start), from whom, and its body.

    ``expect`` gives, per item of ``body["events"]``, "" when it must be accepted or the
    dead-letter reason it must get.
    """

    at_s: float
    user_agent: str
    body: dict[str, Any]
    bot: bool
    session_id: str
    visitor_id: str
    device: str
    expect: tuple[str, ...]


@dataclass(slots=True)
class _Session:
    visitor: Visitor
    beacon: Beacon
    batches: list[list[Any]]
    times: list[float]  # send time of each batch, seconds
    expect: list[list[str]]


def _namespace(seed: int, start_ms: int) -> str:
    # Ids differ between runs at different times, so the dedupe window of a live
    # pipeline does not swallow a rerun with the same seed.
    return hashlib.blake2b(f"{seed}:{start_ms}".encode(), digest_size=3).hexdigest()


def _place(rng: random.Random, session: _Session, start_ms: int, window_ms: float) -> None:
    beacon = session.beacon
    length = max(beacon.t, 1.0)
    scale = min(1.0, MAX_SPAN * window_ms / length)
    offset = rng.random() * (window_ms - length * scale)
    for event in beacon.events:
        event["ts"] = start_ms + int(offset + event["ts"] * scale)
        if scale < 1.0:
            props = event["props"]
            if "dwell_ms" in props:
                props["dwell_ms"] = int(props["dwell_ms"] * scale)
            elif "duration_ms" in props:
                props["duration_ms"] = int(props["duration_ms"] * scale)
    session.batches = list(beacon.requests())
    session.times = [(batch[-1]["ts"] - start_ms) / 1000 for batch in session.batches]
    session.expect = [[""] * len(batch) for batch in session.batches]


def _inject(
    rng: random.Random, sessions: list[_Session], count: int, window: tuple[int, int], truth: Truth
) -> None:
    for n in range(count):
        session = rng.choice(sessions)
        b = rng.randrange(len(session.batches))
        batch = session.batches[b]
        valid = [i for i, tag in enumerate(session.expect[b]) if tag == ""]
        template = batch[rng.choice(valid)]
        reason = pick_reason(rng)
        fault = make_fault(rng, reason, template, f"{session.beacon.session_id}-f{n}", window)
        if reason == "duplicate" and b + 1 < len(session.batches):
            b = rng.randrange(b + 1, len(session.batches))  # a retry sends it again later
            batch = session.batches[b]
            position = rng.randrange(len(batch) + 1)
        elif reason == "duplicate":
            position = batch.index(template) + 1 + rng.randrange(len(batch) - batch.index(template))
        else:
            position = rng.randrange(1, len(batch) + 1)  # never first: keeps the key readable
        batch.insert(position, fault)
        session.expect[b].insert(position, reason)
        truth.dead_letter(reason)


def _door(
    rng: random.Random,
    humans: list[_Session],
    people: list[Visitor],
    namespace: str,
    window: tuple[int, float],
    truth: Truth,
) -> list[_Session]:
    """Mentors' check-in sessions of today's events, from the tickets the visitors hold."""
    held = bookings([session.beacon.events for session in humans])
    out = []
    for page in site.UPCOMING[:DOOR_EVENTS]:
        if held.get(page.item_id):
            mentor = new_visitor(rng, len(people), namespace)
            people.append(mentor)
            beacon = Beacon(f"{namespace}{rng.getrandbits(48):012x}")
            door(rng, beacon, page.item_id, f"{page.url}/check-in", held[page.item_id])
            session = _Session(mentor, beacon, [], [], [])
            _place(rng, session, *window)
            truth.observe_session(mentor.visitor_id, mentor.device, beacon.events)
            out.append(session)
    return out


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    # Generation allocates millions of small dicts that all live until the end; letting the
    # cyclic collector rescan them again and again costs a third of the time (bench/).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def generate(
    seed: int, *, rate: float, duration_s: float, start_ms: int, invalid_ratio: float = 0.0,
    experiments: bool = False,
) -> tuple[list[Request], Truth]:  # fmt: skip
    """Requests of ``duration_s`` seconds of site traffic at ``rate`` events/s, and their truth."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration_s must be positive")
    if not 0 <= invalid_ratio < 0.9:
        raise ValueError("invalid_ratio must be in [0, 0.9)")
    with _without_cyclic_gc():
        return _generate(seed, rate, duration_s, start_ms, invalid_ratio, experiments)


def _generate(
    seed: int, rate: float, duration_s: float, start_ms: int, invalid_ratio: float,
    experiments: bool = False,
) -> tuple[list[Request], Truth]:  # fmt: skip
    rng = random.Random(seed)
    namespace = _namespace(seed, start_ms)
    window_ms = duration_s * 1000
    window = (start_ms, start_ms + int(window_ms))
    truth = Truth(seed=seed, rate=rate, duration_s=duration_s, start_ms=start_ms,
                  invalid_ratio=invalid_ratio)  # fmt: skip
    total = round(rate * duration_s)
    faults = round(total * invalid_ratio)
    bot_events = round(total * BOT_SHARE)
    human_events = total - faults - bot_events

    people: list[Visitor] = []
    humans: list[_Session] = []
    made = 0
    while made < human_events:
        if people and rng.random() < RETURNING:
            visitor = rng.choice(people)
        else:
            visitor = new_visitor(rng, len(people), namespace)
            people.append(visitor)
        beacon = Beacon(f"{namespace}{rng.getrandbits(48):012x}")
        visit(rng, beacon, visitor, experiments)
        session = _Session(visitor, beacon, [], [], [])
        _place(rng, session, start_ms, window_ms)
        truth.observe_session(visitor.visitor_id, visitor.device, beacon.events)
        humans.append(session)
        made += len(beacon.events)
    humans += _door(rng, humans, people, namespace, (start_ms, window_ms), truth)
    bots: list[_Session] = []
    made = 0
    while made < bot_events:
        bot = new_bot(rng, len(people) + len(bots), namespace)
        beacon = Beacon(f"{namespace}{rng.getrandbits(48):012x}")
        crawl(rng, beacon, min(rng.randint(20, 60), bot_events - made))
        session = _Session(bot, beacon, [], [], [])
        _place(rng, session, start_ms, window_ms)
        session.expect = [["bot"] * len(batch) for batch in session.batches]
        truth.dead_letter("bot", len(beacon.events))
        bots.append(session)
        made += len(beacon.events)
    if humans:
        _inject(rng, humans, faults, window, truth)

    keyed: list[tuple[float, int, int, Request]] = []
    for s_index, session in enumerate(humans + bots):
        v = session.visitor
        for b_index, batch in enumerate(session.batches):
            request = Request(
                at_s=round(session.times[b_index], 3),
                user_agent=v.user_agent,
                body={"events": batch},
                bot=v.bot,
                session_id=session.beacon.session_id,
                visitor_id=v.visitor_id,
                device=v.device,
                expect=tuple(session.expect[b_index]),
            )
            keyed.append((request.at_s, s_index, b_index, request))
    keyed.sort(key=lambda k: k[:3])
    truth.requests = len(keyed)
    return [k[3] for k in keyed], truth

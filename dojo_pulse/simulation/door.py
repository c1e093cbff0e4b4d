"""Mentors at the door of a dojo event: arrivals checked in, no-shows and walk-ins.

Families who registered come in groups of their tickets, most of them (``SHOW_UP``); a few
children come without registering (``WALK_IN_SHARE`` of the registered groups). A mentor's
phone posts one ``attendance`` per arrival with its head count, from the check-in page.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from dojo_pulse.simulation.beacon import Beacon

SHOW_UP = 0.82  # registered groups that come (no-shows of free events run at 15-25 %)
WALK_IN_SHARE = 0.12
DOOR_EVENTS = 2  # the soonest upcoming events are "today's" in a run


def bookings(sessions: list[list[dict[str, Any]]]) -> dict[str, list[int]]:
    """Tickets still held per dojo event from the sessions' registrations and cancellations."""
    held: defaultdict[str, list[int]] = defaultdict(list)
    for events in sessions:
        for event in events:
            props = event["props"]
            if event["type"] == "registration":
                held[props["dojo_event_id"]].append(props["tickets"])
            elif event["type"] == "registration_cancel":
                groups = held[props["dojo_event_id"]]
                left = groups.pop() - props["tickets"] if groups else 0
                if left > 0:
                    groups.append(left)
    return held


def door(rng: random.Random, beacon: Beacon, event_id: str, url: str, groups: list[int]) -> None:
    """One mentor's check-in session for ``event_id`` given the registered ``groups``."""
    beacon.emit("page_view", url, {"title": "Check-in"})
    arrivals: list[dict[str, Any]] = []
    for tickets in groups:
        if rng.random() < SHOW_UP:
            arrivals.append({"dojo_event_id": event_id, "count": tickets})
    for _ in range(round(len(groups) * WALK_IN_SHARE * 2 * rng.random())):
        walk_in = {"dojo_event_id": event_id, "count": rng.choice((1, 1, 2)), "walk_in": True}
        arrivals.insert(rng.randrange(len(arrivals) + 1), walk_in)
    for props in arrivals:
        beacon.wait(5_000 + 40_000 * rng.random())
        beacon.emit("attendance", url, props)

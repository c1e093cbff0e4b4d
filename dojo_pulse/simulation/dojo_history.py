"""Simulated history of past dojo events: daily bookings up to the close, and heads at the door.

Each event has a capacity and a popularity; bookings come in family groups, faster as the
day nears (most families book in the last fortnight), stop at capacity, and some are given
back. At the door, families who booked early come less often than late bookers (plans change
over weeks), and walk-ins fill part of the empty places. This is what the forecast models
learn from (``stream.metrics.dojo_forecast``); ``bench/dojo_forecast.py`` scores them on it.
"""

from __future__ import annotations

import math
import random

from stream.metrics.dojo_forecast import DAY_MS, PastEvent

OPEN_DAYS = 35  # registration opens five weeks before the event
CAPACITIES = (12, 16, 20, 24, 30)
T0 = 1_756_684_800_000  # 2025-09-01 00:00 UTC


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: lam stays small here (a day's bookings of one event).
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def past_event(rng: random.Random, starts_ms: int) -> PastEvent:
    """One past event starting at ``starts_ms`` (registration closes the evening before)."""
    capacity = rng.choice(CAPACITIES)
    demand = capacity * rng.lognormvariate(0.0, 0.45)  # tickets wanted, relative to places
    closes = starts_ms - DAY_MS // 4
    first_day = starts_ms - starts_ms % DAY_MS - OPEN_DAYS * DAY_MS
    weights = [1 / (OPEN_DAYS - d + 2) for d in range(OPEN_DAYS)]
    scale = demand / 1.6 / sum(weights)  # 1.6 tickets per family on average
    curve: dict[int, int] = {}
    groups: list[tuple[int, int]] = []  # (day booked, tickets)
    held = 0
    for d in range(OPEN_DAYS):
        day = first_day + d * DAY_MS
        net = 0
        for _ in range(_poisson(rng, scale * weights[d])):
            tickets = rng.choices((1, 2, 3), (0.55, 0.35, 0.1))[0]
            if held + tickets <= capacity:
                held += tickets
                net += tickets
                groups.append((d, tickets))
        for i in range(len(groups) - 1, -1, -1):
            if rng.random() < 0.004:  # a family gives its places back
                net -= groups[i][1]
                held -= groups.pop(i)[1]
        if net:
            curve[day] = net
    attended = 0
    for booked_day, tickets in groups:
        early = booked_day < OPEN_DAYS - 14
        if rng.random() < (0.68 if early else 0.9):
            attended += tickets
    attended += _poisson(rng, 0.15 * (capacity - held) + 0.5)
    return PastEvent(capacity, closes, starts_ms, curve, attended)


def past_events(seed: int, count: int) -> list[PastEvent]:
    """``count`` weekly Saturday-morning events from ``T0`` on, deterministic per ``seed``."""
    rng = random.Random(seed)
    first = T0 + 5 * DAY_MS + 10 * 3_600_000  # the first Saturday, 10:00
    return [past_event(rng, first + week * 7 * DAY_MS) for week in range(count)]

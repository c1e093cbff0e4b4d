"""Minute rows for the store tests, built from visitor ids and values like the simulator's."""

from __future__ import annotations

import random
from collections.abc import Sequence

from stream.sketches.quantiles import Quantiles
from stream.sketches.tally import Tally
from stream.sketches.uniques import Uniques, fingerprint
from stream.store.history import DAY_MS, MINUTE_MS, MinuteRow

# A Monday 00:00 UTC, a fixed "today" for every test.
DAY0 = 1_796_342_400_000
assert DAY0 % DAY_MS == 0


def tally(views: int, visitors: Sequence[str], lcp: Sequence[float] = ()) -> Tally:
    """A traffic-like tally: views, unique visitors (from their ids) and an LCP sketch."""
    out = Tally(counts={"views": views})
    seen = Uniques()
    for visitor in visitors:
        seen.add(fingerprint(visitor))
    out.uniques["visitors"] = seen
    sketch = Quantiles()
    for value in lcp:
        sketch.add(value)
    out.quantiles["LCP"] = sketch
    return out


def visitor_id(rng: random.Random) -> str:
    """A visitor id shaped like the beacon's (a random UUID-like string)."""
    return f"v-{rng.getrandbits(96):024x}"


def random_minutes(
    rng: random.Random, channel: str, first: int, minutes: int, parts: int = 3
) -> tuple[list[MinuteRow], dict[tuple[int, int], list[str]]]:
    """Rows of ``minutes`` minutes from ``first`` over ``parts`` partitions, and who was seen.

    Visitors come from a small pool, so the same visitor shows up in many minutes and parts:
    a roll-up that summed uniques instead of merging them would count them twice.
    """
    pool = [visitor_id(rng) for _ in range(40)]
    rows, seen = [], {}
    for m in range(minutes):
        start = first + m * MINUTE_MS
        for part in range(parts):
            if rng.random() < 0.3:
                continue  # not every partition sees every minute
            visitors = rng.sample(pool, rng.randint(1, 6))
            lcp = [rng.lognormvariate(7.5, 0.5) for _ in range(rng.randint(0, 4))]
            rows.append(MinuteRow(channel, start, part, tally(rng.randint(1, 20), visitors, lcp)))
            seen[start, part] = visitors
    return rows, seen

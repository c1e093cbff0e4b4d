"""Anomaly alerts on per-minute site health: spikes, drops, cooldown, false-alert rate."""

from __future__ import annotations

import math
import random
from typing import Any

from stream.learning.anomaly import Anomalies, hour_of_week
from stream.learning.learners import check_resume

MINUTE = 60_000
MONDAY = 1_764_547_200_000  # 2025-12-01 00:00 UTC, a Monday


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method for small means, a normal approximation for large ones."""
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def steady(rng: random.Random) -> dict[str, float]:
    """One ordinary minute of the site."""
    return {
        "views": poisson(rng, 200),
        "sessions": poisson(rng, 40),
        "dlq_share": max(0.0, rng.gauss(0.02, 0.004)),
        "vitals_p75": rng.gauss(2500, 120),
        "errors": poisson(rng, 1.0),
    }


def run(anomalies: Anomalies, minutes: range, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    alerts = []
    for m in minutes:
        alerts += anomalies.observe(steady(rng), MONDAY + m * MINUTE)
    return alerts


def test_hour_of_week_names_the_hour() -> None:
    assert hour_of_week(MONDAY) == (0, "Monday 00:00")
    assert hour_of_week(MONDAY + (24 + 18) * 60 * MINUTE + 59 * MINUTE) == (42, "Tuesday 18:00")


def test_steady_traffic_rarely_alerts() -> None:
    anomalies = Anomalies()
    alerts = run(anomalies, range(7 * 24 * 60))
    assert anomalies.minutes == 10_080
    # Measured: a week of steady traffic; one false alert in 1000 minutes is the bound.
    assert anomalies.alert_rate < 0.001, alerts[:5]


def test_a_spike_and_a_drop_are_each_alerted_within_two_minutes() -> None:
    anomalies = Anomalies()
    wednesday = 2 * 24 * 60
    run(anomalies, range(wednesday))
    rng = random.Random(9)
    # 40 minutes into the hour: the hour of the week already holds enough minutes to trust.
    drop_at = MONDAY + (wednesday + 60 + 40) * MINUTE
    spike_at = MONDAY + (wednesday + 18 * 60 + 40) * MINUTE
    found: dict[str, dict[str, Any]] = {}
    for m in range(wednesday, wednesday + 18 * 60 + 45):
        at, minute = MONDAY + m * MINUTE, steady(rng)
        if at == spike_at:
            minute["views"] = 1200
        if at == drop_at:
            minute["views"], minute["sessions"] = 8, 1
        for alert in anomalies.observe(minute, at):
            found.setdefault(f"{alert['kind']}:{alert['metric']}", alert)
    spike, drop = found["spike:views"], found["drop:views"]
    assert 0 <= spike["minute"] - spike_at <= MINUTE
    assert 0 <= drop["minute"] - drop_at <= MINUTE
    assert spike["reason"] == "views 6\u00d7 the usual for Wednesday 18:00"
    assert drop["reason"] == "views down to 4% of the usual for Wednesday 01:00"
    assert "drop:sessions" in found
    assert set(found) == {"spike:views", "drop:views", "drop:sessions"}
    assert set(spike) == {"kind", "minute", "metric", "value", "expected", "ratio", "reason",
                          "score"}  # fmt: skip


def test_a_long_outage_alerts_once_per_cooldown() -> None:
    anomalies = Anomalies(cooldown_minutes=10)
    start = 24 * 60
    run(anomalies, range(start))
    rng = random.Random(4)
    drops = []
    for m in range(start, start + 25):
        minute = {**steady(rng), "views": 0, "sessions": 0}
        alerts = anomalies.observe(minute, MONDAY + m * MINUTE)
        drops += [a for a in alerts if a["metric"] == "views"]
    assert [(a["minute"] - MONDAY) // MINUTE - start for a in drops] == [0, 10, 20]
    assert anomalies.snapshot(MONDAY)["alerts"][-1]["kind"] == "drop"


def test_nothing_alerts_while_warming_up() -> None:
    anomalies = Anomalies()
    for m in range(14):
        assert anomalies.observe({"views": 10.0 ** (m % 4)}, MONDAY + m * MINUTE) == []


def test_hst_scores_an_outlier_above_ordinary_minutes() -> None:
    anomalies = Anomalies()
    run(anomalies, range(600))
    rng = random.Random(2)
    ordinary = anomalies.model.score_one(steady(rng))
    odd = anomalies.model.score_one({**steady(rng), "views": 5000, "vitals_p75": 9000})
    assert odd > ordinary


def test_checkpoint_resumes_exactly() -> None:
    def probe(a: Anomalies) -> Any:
        return [a.observe({"views": 2000.0, "sessions": 40.0}, MONDAY + 10**8), a.snapshot(0)]

    check_resume(
        Anomalies, lambda a: run(a, range(500)), lambda a: run(a, range(500, 900), seed=2), probe
    )

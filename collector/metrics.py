"""Prometheus counters of one collector app, in its own registry (never the global one).

Counters only, no labels that name a client, so ``GET /metrics`` is safe to leave open.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess

# Why a request was refused, from the status it was answered with.
REASONS = {403: "origin", 429: "rate_limited", 503: "unavailable"}


class CollectorMetrics:
    """Accepted and refused requests, the rate limiter's failures and salt resets."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.accepted = Counter(
            "dojo_collector_requests_accepted", "Beacon requests answered 202", registry=r
        )
        self.events = Counter(
            "dojo_collector_events_accepted", "Events in accepted beacon requests", registry=r
        )
        self.refused = Counter(
            "dojo_collector_requests_refused",
            "Requests refused by route and reason: origin, rate_limited, bad_request, unavailable",
            ["route", "reason"],
            registry=r,
        )
        self.limiter_failures = Counter(
            "dojo_collector_rate_limit_failures",
            "Requests the rate limiter could not judge (Redis unavailable or too slow)",
            registry=r,
        )
        # A salt made anew mid-day (Redis lost it and no replica held it): visitors who came
        # before that get a second id today, so the day's visitor count may be too high.
        self.salt_resets = Counter(
            "dojo_visitor_salt_resets",
            "Daily visitor salts this process made anew mid-day (visitors may be over-counted)",
            registry=r,
        )
        for route in ("collect", "api"):
            for reason in (*REASONS.values(), "bad_request"):
                self.refused.labels(route=route, reason=reason)  # present at 0 from the start

    def refusal(self, route: str, status: int) -> None:
        """Count one request of ``route`` refused with ``status`` (any other 4xx: bad_request)."""
        self.refused.labels(route=route, reason=REASONS.get(status, "bad_request")).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition (summed over the processes serving one port)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # set by collector.processes
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)

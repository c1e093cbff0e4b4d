"""Anomalies in per-minute site health: robust thresholds that explain themselves, plus HST.

Each minute brings ``METRICS``: views, sessions, dead-lettered share (of all items received,
leaving out crawlers, whose bursts are routine), LCP p75 and form-field errors.
The usual value of a metric is the median of the same hour of the week (UTC) over recent
weeks; until that hour holds ``MIN_BUCKET`` minutes the median of all recent minutes stands
in. A minute is a spike when it lies ``Z`` robust deviations above the usual and at least
``RATIO`` times it; a drop when it lies ``Z_DROP`` deviations below and at most a
``DROP_RATIO``-th of it, for metrics where less is bad news (``DROP_METRICS``). The robust
deviation is 1.4826 * MAD, floored by the noise a metric cannot avoid (``noise_floor``): a
MAD of sparse counts is often zero, and a zero spread would call every blip an anomaly.
One alert per metric and direction per ``cooldown_minutes`` keeps an outage from becoming
an alert storm. A scaled ``HalfSpaceTrees`` scores every minute (scored, then learned)
and its score rides along.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from datetime import UTC, datetime
from typing import Any

from stream.learning.learners import checkpoint, make_model, restore
from stream.sketches.windows import MINUTE_MS

METRICS = ("views", "sessions", "dlq_share", "vitals_p75", "errors")
LABELS = {"views": "views", "sessions": "sessions", "dlq_share": "dead-lettered share",
          "vitals_p75": "LCP p75", "errors": "form errors"}  # fmt: skip
# Below these usual values a ratio means little (2 errors are not "twice the usual 1").
MIN_EXPECTED = {"views": 10.0, "sessions": 3.0, "dlq_share": 0.02, "vitals_p75": 500.0,
                "errors": 2.0}  # fmt: skip
DROP_METRICS = frozenset({"views", "sessions"})
COUNTS = frozenset({"views", "sessions", "errors"})
Z = 6.0
RATIO = 1.8
# Drops are bounded by zero, so they never lie as many deviations out as spikes can.
Z_DROP = 3.0
DROP_RATIO = 3.0
REL_FLOOR = 0.05
SHARE_FLOOR = 0.02  # two percentage points: the binomial noise of a few hundred items
MIN_BUCKET = 30  # minutes of the same hour of the week before trusting its median
MIN_GLOBAL = 15  # minutes seen at all before any alert
BUCKET_MINUTES = 240  # four weeks of one hour
GLOBAL_MINUTES = 240  # the last four hours: "recent minutes"
RECENT_ALERTS = 50


def hour_of_week(minute_start_ms: int) -> tuple[int, str]:
    """The UTC hour of the week (0 = Monday 00:00) and its name, e.g. "Tuesday 18:00"."""
    at = datetime.fromtimestamp(minute_start_ms / 1000, UTC)
    return at.weekday() * 24 + at.hour, f"{at:%A %H}:00"


def _usual(values: deque[float]) -> tuple[float, float]:
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return median, 1.4826 * mad


def noise_floor(metric: str, expected: float) -> float:
    """The smallest spread ``metric`` can have around ``expected``."""
    if metric in COUNTS:
        return math.sqrt(max(expected, 1.0))  # Poisson counts
    if metric == "dlq_share":
        return SHARE_FLOOR
    return REL_FLOOR * max(expected, MIN_EXPECTED[metric])


def _times(ratio: float) -> str:
    # The multiplication sign reads as "times" to people; an "x" would not.
    return f"{ratio:.0f}\u00d7" if ratio >= 3 else f"{ratio:.1f}\u00d7"


class Anomalies:
    """Per-minute anomaly alerts; see the module docstring."""

    def __init__(self, *, cooldown_minutes: int = 10, seed: int = 42) -> None:
        self.cooldown_ms = cooldown_minutes * MINUTE_MS
        self.model = make_model("anomaly", seed)
        self._buckets: dict[tuple[str, int], deque[float]] = {}
        self._global = {m: deque[float](maxlen=GLOBAL_MINUTES) for m in METRICS}
        self._last_alert: dict[tuple[str, str], int] = {}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)
        self.minutes = 0
        self.alerted_minutes = 0

    def observe(
        self, minute_features: dict[str, float], minute_start_ms: int
    ) -> list[dict[str, Any]]:
        """Score one minute, learn it, and return the alerts it raises."""
        x = {m: float(minute_features.get(m, 0.0)) for m in METRICS}
        score = round(float(self.model.score_one(x)), 4)
        self.model.learn_one(x)
        how, when = hour_of_week(minute_start_ms)
        out = []
        for metric, value in x.items():
            bucket = self._buckets.setdefault((metric, how), deque(maxlen=BUCKET_MINUTES))
            alert = self._check(metric, value, bucket, minute_start_ms, when, score)
            if alert is not None:
                out.append(alert)
            bucket.append(value)
            self._global[metric].append(value)
        self.minutes += 1
        self.alerted_minutes += bool(out)
        self.alerts.extend(out)
        return out

    def _check(
        self, metric: str, value: float, bucket: deque[float], minute: int, when: str, score: float
    ) -> dict[str, Any] | None:
        if len(bucket) >= MIN_BUCKET:
            expected, spread = _usual(bucket)
        elif len(self._global[metric]) >= MIN_GLOBAL:
            expected, spread = _usual(self._global[metric])
            when = "recent minutes"
        else:
            return None
        floor = MIN_EXPECTED[metric]
        scale = max(spread, noise_floor(metric, expected), REL_FLOOR * max(expected, floor))
        z = (value - expected) / scale
        if z >= Z and value >= RATIO * max(expected, floor):
            kind = "spike"
        elif (
            metric in DROP_METRICS
            and expected >= floor
            and z <= -Z_DROP
            and value * DROP_RATIO <= expected
        ):
            kind = "drop"
        else:
            return None
        last = self._last_alert.get((metric, kind))
        if last is not None and minute - last < self.cooldown_ms:
            return None
        self._last_alert[(metric, kind)] = minute
        ratio = value / expected if expected else float("inf")
        usual = f"the usual for {when}" if when != "recent minutes" else "the recent usual"
        label = LABELS[metric]
        if kind == "spike":
            reason = f"{label} {_times(ratio)} {usual}"
        else:
            reason = f"{label} down to {ratio:.0%} of {usual}"
        return {"kind": kind, "minute": minute, "metric": metric, "value": value,
                "expected": round(expected, 4), "ratio": round(ratio, 3), "reason": reason,
                "score": score}  # fmt: skip

    @property
    def alert_rate(self) -> float:
        """Share of observed minutes that raised at least one alert."""
        return self.alerted_minutes / self.minutes if self.minutes else 0.0

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The ``alerts`` channel payload (false alerts are unknown without labels)."""
        return {"alerts": list(self.alerts), "false_alert_rate": None}

    def to_bytes(self) -> bytes:
        """The whole state, for a checkpoint."""
        return checkpoint(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Anomalies:
        """Restore a checkpoint written by ``to_bytes``."""
        return restore(data, cls)

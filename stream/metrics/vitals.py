"""Core Web Vitals of one partition: quantiles and good / needs-improvement / poor shares.

Each ``web_vital`` event counts for the UTC day of its ``ts``, site-wide and for its page.
CLS and INP are reported again while a view lives; such a report names the value it replaces
(``props.replaces``, same view and UTC day), which is taken back first, so every view counts
once with its latest value (in the minutes: in the minute of its first report, with the
latest value reported within that minute).
Classes follow the published thresholds (``THRESHOLDS``): a value is *good* when it is
at most the first threshold, *poor* when it is above the second, else *ni*. Quantiles come
from a DDSketch (1 % relative accuracy); shares and ``n`` are exact. For history the last
hour is kept per minute too, site-wide, on the partition's event clock (a value whose minute
has closed counts for its day only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.metrics.minutes import Marks, advance, closed, stale
from stream.sketches import codec
from stream.sketches.codec import from_text, to_text
from stream.sketches.counters import OTHER
from stream.sketches.quantiles import LIBRARY as QUANTILES_LIBRARY
from stream.sketches.quantiles import Quantiles
from stream.sketches.tally import Tally
from stream.sketches.windows import (
    DAY_MS,
    DEFAULT_LATENESS_MS,
    HOUR_MS,
    MINUTE_MS,
    EventClock,
    day_start,
    window_start,
)

# A class's name in history tallies (``ni`` reads as "needs improvement" there).
TALLY_CLASSES = {"good": "good", "ni": "needs", "poor": "poor"}
# metric -> (good up to, poor above); web.dev/articles/vitals thresholds, ms except CLS.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "LCP": (2500.0, 4000.0),
    "INP": (200.0, 500.0),
    "CLS": (0.1, 0.25),
    "FCP": (1800.0, 3000.0),
    "TTFB": (800.0, 1800.0),
}
METRICS = tuple(THRESHOLDS)
# Reported again while a view lives (at each hide, when they changed); a later report says
# which value it replaces (``props.replaces``), the others come once per view.
REPORTED_AGAIN = frozenset({"CLS", "INP"})
# One sketch per page and metric: cap pages so a crawl of odd urls cannot grow memory.
MAX_PAGES = 1000
TOP_PAGES = 20


def classify(metric: str, value: float) -> str:
    """``"good"``, ``"ni"`` or ``"poor"`` for ``value`` of ``metric``."""
    good, poor = THRESHOLDS[metric]
    if value <= good:
        return "good"
    return "poor" if value > poor else "ni"


@dataclass(slots=True)
class _Dist:
    good: int = 0
    ni: int = 0
    poor: int = 0
    sketch: Quantiles = field(default_factory=Quantiles)

    def add(self, metric: str, value: float) -> None:
        kind = classify(metric, value)
        if kind == "good":
            self.good += 1
        elif kind == "poor":
            self.poor += 1
        else:
            self.ni += 1
        self.sketch.add(value)

    @property
    def n(self) -> int:
        return self.good + self.ni + self.poor

    def remove(self, metric: str, value: float) -> bool:
        """Take back one ``value`` added before; False when none is held."""
        if not self.sketch.remove(value):
            return False
        kind = classify(metric, value)
        setattr(self, kind, max(0, getattr(self, kind) - 1))
        return True

    def merged(self, other: _Dist) -> _Dist:
        sketch = self.sketch.merge(other.sketch)
        return _Dist(self.good + other.good, self.ni + other.ni, self.poor + other.poor, sketch)

    def stats(self) -> dict[str, Any]:
        n = self.n
        return {
            "p50": self.sketch.quantile(0.5),
            "p75": self.sketch.quantile(0.75),
            "p95": self.sketch.quantile(0.95),
            "good": self.good / n if n else 0.0,
            "ni": self.ni / n if n else 0.0,
            "poor": self.poor / n if n else 0.0,
            "n": n,
        }

    def encode(self) -> list[Any]:
        return [self.good, self.ni, self.poor, to_text(self.sketch.to_bytes())]

    @classmethod
    def decode(cls, row: list[Any]) -> _Dist:
        good, ni, poor, sketch = row
        return cls(good, ni, poor, Quantiles.from_bytes(from_text(sketch)))


_Metrics = dict[str, _Dist]


def _dist(metrics: _Metrics, metric: str) -> _Dist:
    dist = metrics.get(metric)
    if dist is None:
        dist = metrics[metric] = _Dist()
    return dist


def _merge_metrics(a: _Metrics, b: _Metrics) -> _Metrics:
    empty = _Dist()
    return {m: a.get(m, empty).merged(b.get(m, empty)) for m in a.keys() | b.keys()}


def _metrics_stats(metrics: _Metrics) -> dict[str, Any]:
    empty = _Dist()
    return {m: metrics.get(m, empty).stats() for m in METRICS}


class VitalsState:
    """Mergeable, serialisable Web Vitals distributions of one partition."""

    def __init__(self, max_pages: int = MAX_PAGES, lateness_ms: int = DEFAULT_LATENESS_MS) -> None:
        self.max_pages = max_pages
        self.site: dict[int, _Metrics] = {}  # day -> metric -> distribution
        self.pages: dict[int, dict[str, _Metrics]] = {}  # day -> url -> metric -> distribution
        self.minutes: dict[int, _Metrics] = {}  # minute -> metric -> distribution
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.marks = Marks()

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold the ``web_vital`` events of one ``EventBatch`` dict into the distributions."""
        events = batch["events"]
        for e in events:
            if e["type"] != "web_vital":
                continue
            props = e["props"]
            metric, value = props["name"], float(props["value"])
            replaces = props.get("replaces") if metric in REPORTED_AGAIN else None
            prior = None if replaces is None else float(replaces)
            ts = e["ts"]
            day = ts - ts % DAY_MS
            site = self.site.get(day)
            if site is None:
                site = self.site[day] = {}
                self.pages[day] = {}
            pages = self.pages[day]
            url = e["url"]
            if url not in pages:
                url = url if len(pages) < self.max_pages else OTHER
            page = pages.setdefault(url, {})
            # A later report of the same view's CLS or INP takes its earlier value's place,
            # so a view counts once, with its latest value. Not held (the earlier report was
            # never counted here): the report counts as a view of its own.
            again = False
            if prior is not None and _dist(site, metric).remove(metric, prior):
                again = True
                _dist(page, metric).remove(metric, prior)
            _dist(site, metric).add(metric, value)
            _dist(page, metric).add(metric, value)
            self._minute(ts - ts % MINUTE_MS, metric, value, prior if again else None)
        if events:  # every event moves the clock, so minutes close without more vitals
            advance(self.clock, events[-1]["ts"], batch["received_at"])

    def _minute(self, start: int, metric: str, value: float, prior: float | None) -> None:
        if self.clock.is_closed(start):
            return  # late: counted for its day only
        held = self.minutes.get(start, {}).get(metric)
        if prior is not None and (held is None or not held.remove(metric, prior)):
            return  # the view counts in the earlier minute of its first report
        _dist(self.minutes.setdefault(start, {}), metric).add(metric, value)
        self.marks.touch(start)

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Today's (UTC) site-wide and per-page stats; the 20 pages with most samples."""
        today = day_start(now_ms)
        pages = self.pages.get(today, {})
        counted = sorted(
            ((sum(d.n for d in metrics.values()), url) for url, metrics in pages.items()),
            key=lambda pair: (-pair[0], pair[1]),
        )
        return {
            "site": _metrics_stats(self.site.get(today, {})),
            "pages": [
                {"url": url, "metrics": _metrics_stats(pages[url])}
                for _, url in counted[:TOP_PAGES]
            ],
        }

    def expire(self, now_ms: int) -> None:
        """Forget days before yesterday and closed minutes before the last hour."""
        oldest = day_start(now_ms) - DAY_MS
        for day in [d for d in self.site if d < oldest]:
            del self.site[day]
            self.pages.pop(day, None)
        old = stale(self.clock, self.minutes, window_start(now_ms) - HOUR_MS, now_ms)
        for start in old:
            del self.minutes[start]
        self.marks.forget(old)

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start`` (None when it holds nothing)."""
        minute = self.minutes.get(start)
        if minute is None:
            return None
        out = Tally()
        for metric, dist in minute.items():
            out.quantiles[metric] = dist.sketch.copy()
            for kind, name in TALLY_CLASSES.items():
                out.counts[f"{metric}.{name}"] = getattr(dist, kind)
        return out

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, self.minutes)

    def merge(self, other: VitalsState, *, sessions: bool = True) -> VitalsState:
        """A new state of both partitions (no per-session facts: ``sessions`` is uniformity)."""
        out = VitalsState(max(self.max_pages, other.max_pages), self.clock.lateness_ms)
        out.clock = self.clock.merge(other.clock)
        for start in self.minutes.keys() | other.minutes.keys():
            mine_m, theirs_m = self.minutes.get(start, {}), other.minutes.get(start, {})
            out.minutes[start] = _merge_metrics(mine_m, theirs_m)
        for day in self.site.keys() | other.site.keys():
            out.site[day] = _merge_metrics(self.site.get(day, {}), other.site.get(day, {}))
            mine, theirs = self.pages.get(day, {}), other.pages.get(day, {})
            pages = out.pages[day] = {}
            for url in sorted(mine.keys() | theirs.keys()):
                merged = _merge_metrics(mine.get(url, {}), theirs.get(url, {}))
                key = url if url in pages or len(pages) < out.max_pages else OTHER
                pages[key] = _merge_metrics(pages[key], merged) if key in pages else merged
        return out

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``); distributions hold ddsketch's bins."""

        def encode(metrics: _Metrics) -> dict[str, Any]:
            return {m: d.encode() for m, d in metrics.items()}

        raw = {
            "max_pages": self.max_pages,
            "site": {str(day): encode(metrics) for day, metrics in self.site.items()},
            "pages": {
                str(day): {url: encode(metrics) for url, metrics in pages.items()}
                for day, pages in self.pages.items()
            },
            "minutes": {str(start): encode(metrics) for start, metrics in self.minutes.items()},
            "clock": self.clock.to_list(),
        }
        return codec.encode("vitals", 2, raw, libraries=(QUANTILES_LIBRARY,))

    @classmethod
    def from_bytes(cls, data: bytes) -> VitalsState:
        """Rebuild a state written by ``to_bytes`` (or by the codec-less format before it)."""
        return codec.decode("vitals", data, {1: cls._read_v1, 2: cls._read_v2})

    @classmethod
    def _read_v2(cls, raw: dict[str, Any]) -> VitalsState:
        out = cls._read_v1(raw)
        out.minutes = {
            int(start): {m: _Dist.decode(row) for m, row in metrics.items()}
            for start, metrics in raw["minutes"].items()
        }
        out.clock = EventClock.from_list(raw["clock"])
        return out

    @classmethod
    def _read_v1(cls, raw: dict[str, Any]) -> VitalsState:
        # v1 kept no minutes and no clock.

        def decode(metrics: dict[str, Any]) -> _Metrics:
            return {m: _Dist.decode(row) for m, row in metrics.items()}

        out = cls(raw["max_pages"])
        out.site = {int(day): decode(metrics) for day, metrics in raw["site"].items()}
        out.pages = {
            int(day): {url: decode(metrics) for url, metrics in pages.items()}
            for day, pages in raw["pages"].items()
        }
        return out

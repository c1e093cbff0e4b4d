"""measure_vitals: reads dojo.events, folds each partition into ``VitalsState``.

Writes dojo.metrics.vitals and the live channel ``vitals``: p50/p75/p95 of the Core Web
Vitals per page and metric, and the good/needs-improvement/poor shares.
"""

from __future__ import annotations

from stream.metrics.vitals import VitalsState
from stream.runtime.aggregate import Metric
from stream.settings import Settings


def measure_vitals(settings: Settings) -> Metric:
    """The vitals metric: folded by ``stream.runtime.aggregate``."""
    return Metric("measure_vitals", "vitals", VitalsState, VitalsState.from_bytes)

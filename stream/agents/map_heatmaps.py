"""map_heatmaps: reads dojo.events, folds each partition into ``HeatmapsState``.

Writes dojo.metrics.heatmaps and the live channel ``heatmaps``: click grids, scroll reach,
rage and dead clicks per page and viewport class.
"""

from __future__ import annotations

from stream.metrics.heatmaps import HeatmapsState
from stream.runtime.aggregate import Metric
from stream.settings import Settings


def map_heatmaps(settings: Settings) -> Metric:
    """The heatmaps metric: folded by ``stream.runtime.aggregate``."""
    return Metric("map_heatmaps", "heatmaps", HeatmapsState, HeatmapsState.from_bytes)

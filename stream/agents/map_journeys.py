"""map_journeys: reads dojo.events, folds each partition into ``JourneysState``.

Writes dojo.metrics.journeys and the live channel ``journeys``: transitions, entries,
exits, paths and loops.
"""

from __future__ import annotations

from stream.metrics.journeys import JourneysState
from stream.runtime.aggregate import Metric
from stream.settings import Settings


def map_journeys(settings: Settings) -> Metric:
    """The journeys metric: folded by ``stream.runtime.aggregate``."""
    return Metric("map_journeys", "journeys", JourneysState, JourneysState.from_bytes)

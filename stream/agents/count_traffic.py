"""count_traffic: reads dojo.events, folds each partition into ``TrafficState``.

Writes dojo.metrics.traffic and the live channel ``traffic``: views, visitors, sessions,
bounce, pages, referrers and devices (the site's own hosts tell an internal referrer from
an external one).
"""

from __future__ import annotations

from stream.metrics.traffic import TrafficState
from stream.runtime.aggregate import Metric
from stream.settings import Settings


def count_traffic(settings: Settings) -> Metric:
    """The traffic metric: folded by ``stream.runtime.aggregate``."""
    hosts = settings.site_origins
    return Metric("count_traffic", "traffic", lambda: TrafficState(hosts), TrafficState.from_bytes)

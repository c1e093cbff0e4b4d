"""track_funnels: reads dojo.events, folds each partition into ``FunnelsState``.

Writes dojo.metrics.funnels and the live channel ``funnels``: the funnels of
``DOJO_FUNNELS``, or else the ones shipped in ``stream/metrics/funnels.yaml``.
"""

from __future__ import annotations

from stream.metrics.funnel_config import configured_path, load_funnels
from stream.metrics.funnels import FunnelsState
from stream.runtime.aggregate import Metric
from stream.settings import Settings


def track_funnels(settings: Settings) -> Metric:
    """The funnels metric: folded by ``stream.runtime.aggregate``."""
    funnels = load_funnels(configured_path(settings.funnels_path))
    return Metric(
        "track_funnels", "funnels",
        lambda: FunnelsState(funnels), lambda b: FunnelsState.from_bytes(b, funnels),
    )  # fmt: skip

"""track_experiments: reads dojo.events, folds each partition into ``ExperimentsState``.

Writes dojo.metrics.experiments and the live channel ``experiments``: per experiment and
variant the exposed units, conversions on every goal, errors, vitals p75 and dwell, with the
always-valid comparison against control, SRM, guardrails and the decision line. The worker's
states share one ``Catalogue`` of published experiment designs.
"""

from __future__ import annotations

from stream.experiments.design import Catalogue
from stream.experiments.state import ExperimentsState
from stream.runtime.aggregate import Metric
from stream.settings import Settings


def track_experiments(settings: Settings, catalogue: Catalogue | None = None) -> Metric:
    """The experiments metric: folded by ``stream.runtime.aggregate``."""
    shared = catalogue if catalogue is not None else Catalogue()
    return Metric(
        "track_experiments",
        "experiments",
        lambda: ExperimentsState(shared),
        lambda data: ExperimentsState.from_bytes(data, shared),
    )

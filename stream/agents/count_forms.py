"""count_forms: reads dojo.events, folds each partition into ``FormsState``.

Writes dojo.metrics.forms and the live channel ``forms``: starts, submits, abandons, time
to complete and the field where visitors drop off.
"""

from __future__ import annotations

from stream.metrics.forms import FormsState
from stream.runtime.aggregate import Metric
from stream.settings import Settings


def count_forms(settings: Settings) -> Metric:
    """The forms metric: folded by ``stream.runtime.aggregate``."""
    return Metric("count_forms", "forms", FormsState, FormsState.from_bytes)

"""Simulated traffic of the DD Coder Dojo website, with the ground truth it implies.

Contract:
- ``generate(seed, rate=, duration_s=, start_ms=, invalid_ratio=)`` is pure and
  deterministic: the same arguments give byte-identical ``Request`` lists. Requests are
  ordered by ``at_s`` (seconds from the start); event ``ts`` = ``start_ms`` + simulated
  offset; about ``rate * duration_s`` items are produced in total.
- Every item is either a valid v1 event (docs/contract.md) or deliberately
  broken and tagged in ``Request.expect`` with the dead-letter reason it must get
  (schema, type, size, too_old, too_new, duplicate, malformed, bot).
- ``Truth`` holds what a correct pipeline computes from the valid events only; broken
  items and bots never change it. ``Truth.to_dict()`` is JSON-ready.
- ``run(settings, ...)`` delivers the traffic over HTTP (``POST /collect``) or straight to
  ``dojo.events.raw`` and raises ``SimulationError`` when it cannot reach either.
- Visitors carry a stable ``DojoSim/<run>-<n>`` token in their user agent so the collector
  tells them apart even though every request comes from one address.
"""

from __future__ import annotations

from dojo_pulse.simulation.delivery import SimulationError, run
from dojo_pulse.simulation.traffic import Request, generate
from dojo_pulse.simulation.truth import Truth

__all__ = ["Request", "SimulationError", "Truth", "generate", "run"]

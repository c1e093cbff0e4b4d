"""Sketches: the small building blocks every state counts with.

Contract: time windows (``windows``), capped counters (``counters``), mergeable quantiles
(``quantiles``) and distinct counts (``uniques``); pure, serialisable, clock passed in.
``codec`` is the one versioned checkpoint format of every metric state; ``hll`` and
``dense_store`` are the only modules that touch a sketch library's internal layout, each
pinned to the library version it was written for. Imports nothing of the project.
"""

"""Sketches: the small building blocks every state counts with.

Contract: time windows (``windows``), capped counters (``counters``), mergeable quantiles
(``quantiles``) and distinct counts (``uniques``); pure, serialisable, clock passed in.
Imports nothing of the project.
"""

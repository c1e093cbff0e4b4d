"""Faust agents, one per file, each named by its verb (README's agent table).

Contract: a module says which topic its agent reads, what state it folds and what it writes.
The six metric agents (``count_traffic``, ``count_forms``, ``measure_vitals``,
``track_funnels``, ``map_journeys``, ``map_heatmaps``) each define a ``Metric`` that
``stream.runtime.aggregate`` folds, checkpoints and publishes; ``learn_online`` and
``show_activity`` add what their outputs need. Agents catch bad input and route it to the
dead-letter topic; they never swallow programming errors. Nothing here runs at import time:
``stream.app.create_app`` calls them. Agents import the packages below them, never a web app.

The validate stage (``validate_events.py``) is the one exception to "a Faust stream per
agent": it attaches a task to the app that reads the raw topic with its own aiokafka
consumer, so that its per-message cost is a loop's, not a stream's, and it commits only what
Kafka holds.
"""

"""Faust agents, one per file, each named by its verb (README's agent table).

Contract: a module says which topic its agent reads, what state it folds and what it writes.
The six metric agents (``count_traffic``, ``count_forms``, ``measure_vitals``,
``track_funnels``, ``map_journeys``, ``map_heatmaps``) each define a ``Metric`` that
``stream.runtime.aggregate`` folds, checkpoints and publishes; ``learn_online`` and
``show_activity`` add what their outputs need. Agents catch bad input and route it to the
dead-letter topic; they never swallow programming errors. Nothing here runs at import time:
``stream.app.create_app`` calls them. Agents import the packages below them, never a web app.

Two agents attach a task with an aiokafka consumer of their own instead of a Faust stream:
the validate stage (``validate_events.py``) reads the raw topic, so that its per-message cost
is a loop's and it commits only what Kafka holds; ``learn_online.py`` joins a group of its own
whose assignor gives every partition to one worker, because models do not merge.
"""

"""Faust agents, one per file.

Contract: each module exposes one factory ``<verb>(app, ...) -> faust agent`` that wires a
function reading one topic to pure logic in ``stream`` and sends results on. Agents catch
bad input and route it to the dead-letter topic; they never swallow programming errors.
Nothing here runs at import time: ``stream.app.create_app`` calls the factories.

The validate stage (``validate.py``) is the one exception to "a Faust stream per agent": it
attaches a task to the app that reads the raw topic with its own aiokafka consumer, so that
its per-message cost is a loop's, not a stream's, and it commits only what Kafka holds.
"""

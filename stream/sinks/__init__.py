"""Sinks: where results leave a worker for other processes.

Contract: ``publish`` sends snapshots to the live channels and keeps the latest in Redis,
under the names of ``stream.models.keys``; ``prometheus`` holds the worker's own metrics and
serves them at ``/metrics``. Imports only models and settings.
"""

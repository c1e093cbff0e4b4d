"""Metrics: the mergeable per-partition states the metric agents fold events into.

Contract: each state has ``apply / merge / snapshot / expire`` and a checkpoint
(``to_bytes`` / ``from_bytes``) with the clock passed in as ``now_ms``; they do no I/O.
``pipeline`` (the validate stage's counters, published through ``stream.sinks``) is the one
module here that talks to Redis. Imports ``stream.sketches``, ``stream.ingest`` (the contract's
event types), ``stream.sinks``, models and settings; never an agent, a learner or the runtime.
"""

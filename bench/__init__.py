"""Reproducible benchmarks of Dojo Pulse, run side by side with their ceilings.

Contract: ``python -m bench`` loads one deterministic data set into private topics, runs each
section (ceiling, Kafka Streams baseline, our worker, end-to-end latency, WebSocket fan-out,
memory footprint) ``--runs`` times on that same data, and writes medians with their spread
to ``bench/results/latest.md`` and ``latest.json``. Every process it starts it stops, every
topic it creates it deletes; the shared Kafka and Redis are only used, never stopped.
Benchmarks are never part of the test suite.
"""

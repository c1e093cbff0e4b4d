"""Reproducible benchmarks of Dojo Pulse, run side by side with their ceilings.

Contract: ``python -m bench`` loads one deterministic data set into private topics, runs each
section (ceiling, Kafka Streams baseline, our worker, end-to-end latency, WebSocket fan-out,
memory footprint) ``--runs`` times on that same data, and writes medians with their spread
to ``bench/results/latest.md`` and ``latest.json``. Every process it starts it stops, every
topic it creates it deletes; the shared Kafka and Redis are only used, never stopped.
Pipeline drains get a deadline sized to their data, never a fixed cut; ``--sizes`` adds the
flat-cost rows (the all-agents worker at two sizes, interleaved) and ``--scale-out`` two
workers against one, and the run ends with a capacity plan derived from the measured costs.
Benchmarks are never part of the test suite.
"""

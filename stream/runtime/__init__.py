"""Runtime: what every folding agent runs on.

Contract: ``rollup`` keeps per-partition states and their checkpoint bookkeeping (clock
injected), ``aggregate`` registers a metric agent (fold, checkpoint-then-acknowledge, merge
of other workers' partials, paced publishing) with ``rewind`` and ``budget`` as its
collaborators, ``progress`` counts folded messages in Redis. Imports ``stream.ingest``
(bundles), ``stream.sinks``, models and settings; never an agent or a metric.
"""

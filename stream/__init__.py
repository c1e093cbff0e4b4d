"""The stream processor: settings, topics and the pure logic the Faust agents call.

Contract: modules here are pure (time passed in, no I/O) unless named for their I/O
(``dedupe``, ``publish``, ``pipeline_stats``, ``topics``, ``worker``, ``local_run``);
agents live in ``stream.agents`` and records in ``stream.models``.
"""

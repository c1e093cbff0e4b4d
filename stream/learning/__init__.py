"""Learning: the online learners (engagement, recommendations, segments, anomalies).

Contract: one learner per module behind the small protocol of ``learners`` (prequential:
score or predict, then learn; time passed in; checkpointed with ``to_bytes``), combined
into the one ``LearningState`` of ``state``; ``serving`` stores recommendations for the
collector's site API; ``biased_mf`` is the one module that reads river's ``BiasedMF``
weights directly, pinned to the river version it was written for. Imports
``stream.sketches``, ``stream.metrics`` (session rules), models and settings; never an agent
or the runtime.
"""

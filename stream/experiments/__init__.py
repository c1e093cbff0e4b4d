"""A/B experiments: assignment, running statistics and the always-valid analysis.

Contract: everything here is pure — counts in, figures out, no clock read and no I/O.
``assignment`` maps (experiment, unit id) to a variant deterministically; ``running`` keeps
per-variant counts, means and variances (Welford) that merge across partitions;
``sequential`` (mSPRT), ``bayes`` (Beta-Binomial) and ``srm`` (sequential multinomial test)
turn counts into figures that stay valid however often they are looked at; ``guardrails``
flag harm; ``analysis`` puts them together with one plain decision line per experiment.
"""

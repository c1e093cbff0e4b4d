"""Sample-ratio mismatch: a sequential multinomial test, valid however often it is checked.

Reference: Lindon and Malek, "Anytime-Valid Inference for Multinomial Count Data", NeurIPS 2022.
With a Dirichlet(k * p0) prior on the true split, the Bayes factor of the observed counts
against the planned split p0,

    BF = [B(alpha + x) / B(alpha)] / prod_i p0_i^x_i      (B: the multivariate Beta function)

is a nonnegative martingale under p0, so P(ever BF >= 1/alpha) <= alpha (Ville): a mismatch
flagged at ``ALPHA`` is a false alarm at most that often, over the whole life of an experiment.
The concentration ``k`` trades early power against late power; 100 puts the prior's spread
near a 5 % imbalance, the size of bug (a dropped exposure, a redirect) that SRM exists to catch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

ALPHA: Final = 0.001  # strict: a false stop of a good experiment costs a week of the club's traffic
CONCENTRATION: Final = 100.0


def log_bayes_factor(
    counts: npt.ArrayLike, planned: Sequence[float], concentration: float = CONCENTRATION
) -> npt.NDArray[np.float64]:
    """log BF of the counts (last axis: variants) against the planned split."""
    x = np.asarray(counts, dtype=np.float64)
    p0 = np.asarray(planned, dtype=np.float64)
    p0 = p0 / p0.sum()
    prior = concentration * p0
    log_beta_post = gammaln(prior + x).sum(-1) - gammaln(prior.sum() + x.sum(-1))
    log_beta_prior = gammaln(prior).sum() - gammaln(prior.sum())
    return np.asarray(log_beta_post - log_beta_prior - (x * np.log(p0)).sum(-1))


def p_value(counts: Sequence[int], planned: Sequence[float]) -> float:
    """The always-valid p-value min(1, 1/BF) of the split so far."""
    if len(counts) != len(planned) or len(counts) < 2:
        raise ValueError("SRM needs one count per planned weight, and two variants or more")
    return min(1.0, float(np.exp(-log_bayes_factor(counts, planned))))


def mismatch(counts: Sequence[int], planned: Sequence[float], alpha: float = ALPHA) -> bool:
    """True when the units' split is off the planned one beyond chance."""
    return p_value(counts, planned) < alpha

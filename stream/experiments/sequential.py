"""Always-valid inference on a difference of two means or rates: the mixture SPRT (mSPRT).

Reference: Johari, Koomen, Pekelis and Walsh, "Peeking at A/B Tests: Why it matters, and what
to do about it", KDD 2017 (and Operations Research 70(3), 2022), section 4: with a normal
mixture N(theta0, tau^2) over the effect, the likelihood ratio of the estimate ``d`` (variance
``v``) against theta0 is

    Lambda = sqrt(v / (v + tau^2)) * exp(tau^2 (d - theta0)^2 / (2 v (v + tau^2)))

a martingale under theta0, so by Ville's inequality P(ever Lambda >= 1/alpha) <= alpha:
``1/Lambda`` is a p-value and ``{theta0 : Lambda < 1/alpha}`` a confidence interval that stay
valid whenever and however often they are read. For rates the normal approximation of the
two-sample difference is used (the paper's Bernoulli case), with the variance under the null
(pooled) for the p-value and the unpooled one for the interval, as a fixed-horizon z-test does.

The functions take numpy arrays as well as floats, so the bench evaluates thousands of
experiments at once with the code the agent runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import stats

Array = npt.NDArray[np.float64]
ArrayLike = float | npt.ArrayLike

# The mixing scale: the size of effect the club expects to detect (2 percentage points on a
# sign-up rate near 10 %). The test is valid for any tau; a tau near the true effect decides
# soonest (Johari et al., section 4.3).
DEFAULT_TAU: Final = 0.02
MIN_UNITS: Final = 100  # per variant: below it the normal approximation is not trusted
_TINY: Final = 1e-12  # a variance floor, so 0 of n or n of n conversions do not divide by 0


@dataclass(frozen=True, slots=True)
class Comparison:
    """One variant against control: estimate, always-valid p and interval, fixed-horizon p."""

    difference: float
    p_value: float  # always-valid
    low: float  # always-valid interval at 1 - alpha
    high: float
    fixed_p_value: float  # the fixed-horizon z-test on the same counts (valid at the horizon only)


def log_likelihood_ratio(d: ArrayLike, v: ArrayLike, tau: float = DEFAULT_TAU) -> Array:
    """log Lambda of estimate ``d`` with variance ``v`` against theta0 = 0."""
    d, v = _floats(d), np.maximum(_floats(v), _TINY)
    t2 = tau * tau
    return np.asarray(0.5 * np.log(v / (v + t2)) + t2 * d * d / (2 * v * (v + t2)))


def p_value(d: ArrayLike, v: ArrayLike, tau: float = DEFAULT_TAU) -> Array:
    """The always-valid p-value min(1, 1/Lambda) at this moment."""
    return np.asarray(np.minimum(1.0, np.exp(-log_likelihood_ratio(d, v, tau))))


def radius(v: ArrayLike, alpha: float, tau: float = DEFAULT_TAU) -> Array:
    """Half-width of the always-valid (1 - alpha) interval around the estimate."""
    v = np.maximum(_floats(v), _TINY)
    t2 = tau * tau
    return np.asarray(np.sqrt(v * (v + t2) / t2 * (2 * np.log(1 / alpha) + np.log((v + t2) / v))))


def rate_variances(
    n_a: ArrayLike, c_a: ArrayLike, n_b: ArrayLike, c_b: ArrayLike
) -> tuple[Array, Array, Array]:
    """Difference of rates (b - a) with its pooled (null) and unpooled variances."""
    n_a, c_a, n_b, c_b = (_floats(x) for x in (n_a, c_a, n_b, c_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = c_a / n_a, c_b / n_b
        pooled = (c_a + c_b) / (n_a + n_b)
        null = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
        free = p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b
    return np.asarray(p_b - p_a), np.asarray(null), np.asarray(free)


def rate_p_values(
    n_a: ArrayLike, c_a: ArrayLike, n_b: ArrayLike, c_b: ArrayLike, tau: float = DEFAULT_TAU
) -> Array:
    """Always-valid p-values for rate b = rate a; 1.0 until both have ``MIN_UNITS`` units."""
    d, null, _ = rate_variances(n_a, c_a, n_b, c_b)
    enough = (_floats(n_a) >= MIN_UNITS) & (_floats(n_b) >= MIN_UNITS)
    return np.asarray(np.where(enough, p_value(np.nan_to_num(d), np.nan_to_num(null), tau), 1.0))


def fixed_p_values(n_a: ArrayLike, c_a: ArrayLike, n_b: ArrayLike, c_b: ArrayLike) -> Array:
    """Two-sided pooled z-test p-values: right at a planned horizon, wrong when peeked at."""
    d, null, _ = rate_variances(n_a, c_a, n_b, c_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(d) / np.sqrt(null)
    return np.asarray(np.where(np.isfinite(z), 2 * stats.norm.sf(z), 1.0))


def compare_rates(
    n_a: int, c_a: int, n_b: int, c_b: int, alpha: float = 0.05, tau: float = DEFAULT_TAU
) -> Comparison:
    """Variant b against control a, on conversions ``c`` of units ``n``."""
    d, _, free = rate_variances(n_a, c_a, n_b, c_b)
    diff = float(np.nan_to_num(d))
    if min(n_a, n_b) < MIN_UNITS:
        return Comparison(diff, 1.0, -1.0, 1.0, float(fixed_p_values(n_a, c_a, n_b, c_b)))
    r = float(radius(float(free), alpha, tau))
    return Comparison(
        diff,
        float(rate_p_values(n_a, c_a, n_b, c_b, tau)),
        max(-1.0, diff - r),
        min(1.0, diff + r),
        float(fixed_p_values(n_a, c_a, n_b, c_b)),
    )


def units_to_detect(rate: float, effect: float, alpha: float, tau: float = DEFAULT_TAU) -> int:
    """Units per variant at which the interval's half-width falls to ``effect`` (0: never)."""
    spread = 2 * max(rate * (1 - rate), _TINY)
    n = MIN_UNITS
    while n < 10**9:
        if float(radius(spread / n, alpha, tau)) <= effect:
            return n
        n = int(n * 1.25) + 1
    return 0


def _floats(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)

"""The experiment statistics against reference values: scipy, closed forms worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from stream.experiments import bayes, guardrails, sequential, srm
from stream.experiments.running import Running


def test_running_matches_numpy_and_merges_like_one_pass() -> None:
    values = np.random.default_rng(7).lognormal(8, 1, size=1001)
    whole, left, right = Running(), Running(), Running()
    for i, value in enumerate(values):
        whole.add(float(value))
        (left if i < 300 else right).add(float(value))
    left.merge(right)
    for r in (whole, left):
        assert r.count == 1001
        assert r.mean == pytest.approx(values.mean(), rel=1e-12)
        assert r.variance == pytest.approx(values.var(ddof=1), rel=1e-9)
    assert Running.from_list(whole.to_list()) == whole


def test_running_welch_test_agrees_with_scipy_on_raw_values() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 2, 400), rng.normal(10.4, 3, 500)
    ra, rb = Running(), Running()
    for x in a:
        ra.add(float(x))
    for x in b:
        rb.add(float(x))
    ours = stats.ttest_ind_from_stats(
        ra.mean, ra.variance**0.5, ra.count, rb.mean, rb.variance**0.5, rb.count, equal_var=False
    )
    assert ours.pvalue == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_running_refuses_non_finite_values(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        Running().add(bad)


def test_msprt_p_value_matches_the_hand_computed_value() -> None:
    # 100/1000 against 130/1000, tau = 0.02. Pooled rate 0.115, so the null variance is
    # v = 0.115 * 0.885 * (2 / 1000) = 2.0355e-4, and v + tau^2 = 6.0355e-4.
    # log Lambda = 0.5 ln(2.0355 / 6.0355) + 4e-4 * 0.03^2 / (2 * 2.0355e-4 * 6.0355e-4)
    #            = -0.54347 + 1.46517 = 0.92170, so p = exp(-0.92170) = 0.39784.
    assert float(sequential.rate_p_values(1000, 100, 1000, 130)) == pytest.approx(0.39784, abs=1e-5)


def test_msprt_interval_matches_the_hand_computed_radius() -> None:
    # Unpooled v = 0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000 = 2.031e-4; the radius is
    # sqrt(v (v + tau^2) / tau^2 * (2 ln 20 + ln((v + tau^2) / v)))
    # = sqrt(2.031e-4 * 6.031e-4 / 4e-4 * (5.99146 + 1.08026)) = sqrt(2.16548e-3) = 0.046535.
    got = sequential.compare_rates(1000, 100, 1000, 130)
    assert got.difference == pytest.approx(0.03)
    assert got.high - got.difference == pytest.approx(0.04656, abs=1e-4)
    assert got.difference - got.low == pytest.approx(0.04656, abs=1e-4)


def test_at_the_horizon_fixed_figures_agree_with_scipy_and_the_interval_contains_them() -> None:
    n_a, c_a, n_b, c_b = 5000, 500, 5000, 580
    table = [[c_a, n_a - c_a], [c_b, n_b - c_b]]
    chi2 = stats.chi2_contingency(table, correction=False)
    got = sequential.compare_rates(n_a, c_a, n_b, c_b)
    assert got.fixed_p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    assert got.difference == pytest.approx(c_b / n_b - c_a / n_a)
    # The always-valid interval pays for peeking: it contains scipy's fixed-horizon interval.
    se = math.sqrt(0.1 * 0.9 / n_a + 0.116 * 0.884 / n_b)
    fixed = stats.norm.interval(0.95, loc=got.difference, scale=se)
    assert got.low < fixed[0] and fixed[1] < got.high
    assert got.p_value > got.fixed_p_value


def test_no_call_below_the_minimum_units_or_with_no_conversions() -> None:
    assert float(sequential.rate_p_values(50, 0, 50, 50)) == 1.0
    assert float(sequential.rate_p_values(1000, 0, 1000, 0)) == pytest.approx(1.0)
    early = sequential.compare_rates(10, 1, 10, 9)
    assert (early.p_value, early.low, early.high) == (1.0, -1.0, 1.0)


def test_units_to_detect_shrinks_with_a_larger_effect() -> None:
    small, large = (sequential.units_to_detect(0.1, e, 0.05) for e in (0.01, 0.05))
    assert large < small
    assert float(sequential.radius(0.18 / small, 0.05)) <= 0.01


def _beats_by_quadrature(x: bayes.Posterior, y: bayes.Posterior) -> float:
    def f(t: float) -> float:
        return float(stats.beta.pdf(t, x.alpha, x.beta) * stats.beta.cdf(t, y.alpha, y.beta))

    return float(integrate.quad(f, 0, 1, limit=200)[0])


@pytest.mark.parametrize(("units", "conv"), [((100, 100), (10, 15)), ((2000, 1800), (200, 230))])
def test_chance_to_beat_matches_numerical_integration(
    units: tuple[int, int], conv: tuple[int, int]
) -> None:
    a, b = (bayes.Posterior.of(n, c) for n, c in zip(units, conv, strict=True))
    assert bayes.beats(b, a) == pytest.approx(_beats_by_quadrature(b, a), abs=1e-6)
    assert bayes.beats(b, a) + bayes.beats(a, b) == pytest.approx(1.0, abs=1e-9)


def test_expected_loss_matches_numerical_integration() -> None:
    a, b = bayes.Posterior.of(400, 40), bayes.Posterior.of(400, 52)

    def loss(y: float, x: float) -> float:
        density = stats.beta.pdf(x, b.alpha, b.beta) * stats.beta.pdf(y, a.alpha, a.beta)
        return float(max(y - x, 0.0) * density)

    reference = integrate.dblquad(loss, 0, 0.4, 0, 0.4, epsabs=1e-9)[0]
    assert bayes.expected_loss(b, a) == pytest.approx(reference, abs=1e-6)
    assert bayes.expected_loss(b, a) < bayes.expected_loss(a, b)


@pytest.mark.parametrize(("units", "conv"), [(10, 11), (10, -1)])
def test_posterior_refuses_impossible_counts(units: int, conv: int) -> None:
    with pytest.raises(ValueError, match="conversions"):
        bayes.Posterior.of(units, conv)


def test_srm_bayes_factor_matches_the_hand_computed_value() -> None:
    # Dirichlet(50, 50) prior, counts (3, 1), planned 1/2 each:
    # log BF = lgamma(53) + lgamma(51) - lgamma(104) - [2 lgamma(50) - lgamma(100)] + 4 ln 2.
    by_hand = (
        math.lgamma(53) + math.lgamma(51) - math.lgamma(104)
        - 2 * math.lgamma(50) + math.lgamma(100) + 4 * math.log(2)
    )  # fmt: skip
    assert float(srm.log_bayes_factor([3, 1], [0.5, 0.5])) == pytest.approx(by_hand, abs=1e-12)


def test_srm_flags_52_48_and_not_50_50() -> None:
    assert srm.mismatch([10_400, 9_600], [0.5, 0.5])
    assert not srm.mismatch([10_050, 9_950], [0.5, 0.5])
    assert not srm.mismatch([9_000, 1_000], [0.9, 0.1])
    assert srm.mismatch([5_000, 5_000], [0.9, 0.1])


@pytest.mark.parametrize(("counts", "planned"), [([1, 2, 3], [0.5, 0.5]), ([5], [1.0])])
def test_srm_refuses_counts_that_do_not_fit_the_plan(
    counts: list[int], planned: list[float]
) -> None:
    with pytest.raises(ValueError, match="one count per planned weight"):
        srm.p_value(counts, planned)


def test_vitals_guardrail_flags_harm_beyond_chance_only() -> None:
    control = {"LCP": guardrails.Vital(2300, 2000, 400), "INP": guardrails.Vital(80, 2000, 100)}
    worse = {"LCP": guardrails.Vital(2700, 2000, 700), "INP": guardrails.Vital(85, 2000, 110)}
    harms = guardrails.vitals_harm("B", control, worse, 0.05)
    assert [(h.variant, h.guardrail) for h in harms] == [("B", "LCP")]
    assert harms[0].detail == (
        "LCP p75 2,700 ms against 2,300 ms; 35% of samples past 2,500 ms against 20%"
    )
    # A higher p75 on a handful of samples, or a share that moved by chance, is not harm.
    thin = {"LCP": guardrails.Vital(9000, 10, 10)}
    assert guardrails.vitals_harm("B", control, thin, 0.05) == []
    drift = {"LCP": guardrails.Vital(2400, 2000, 420)}
    assert guardrails.vitals_harm("B", control, drift, 0.05) == []


def test_error_and_dead_letter_guardrails() -> None:
    assert guardrails.errors_harm("B", (2000, 40), (2000, 120), 0.05)[0].guardrail == "errors"
    assert guardrails.errors_harm("B", (2000, 120), (2000, 40), 0.05) == []
    assert guardrails.dead_letter_harm(0.2)[0].detail == "20.0% of events dead-lettered"
    assert guardrails.dead_letter_harm(0.01) == guardrails.dead_letter_harm(None) == []


def test_a_thousand_a_a_experiments_peeked_every_batch_stay_under_alpha() -> None:
    rng = np.random.default_rng(11)
    n_a = rng.binomial(100, 0.5, size=(1000, 60))
    n_b = 100 - n_a
    c_a, c_b = rng.binomial(n_a, 0.1), rng.binomial(n_b, 0.1)
    cum = [np.cumsum(x, axis=1) for x in (n_a, c_a, n_b, c_b)]
    ever = (sequential.rate_p_values(*cum) < 0.05).any(axis=1).mean()
    naive = (sequential.fixed_p_values(*cum) < 0.05).any(axis=1).mean()
    assert ever <= 0.05 + 1.96 * math.sqrt(0.05 * 0.95 / 1000)
    assert naive > 0.2  # the same data, peeked with a fixed-horizon test: far above alpha
    srm_ever = (srm.log_bayes_factor(np.stack(cum[::2], -1), [0.5, 0.5]) > math.log(1000)).any(1)
    assert srm_ever.mean() <= 0.001 + 1.96 * math.sqrt(0.001 * 0.999 / 1000)

"""One experiment's figures and its plain decision line, from per-variant counts.

The first variant is control. With more than one treatment each is compared with control at
alpha / (variants - 1) (Bonferroni), so the experiment as a whole keeps its alpha. The order
of the verdicts matters: a sample-ratio mismatch voids every other figure, a broken guardrail
stops the experiment whatever the primary metric says, and no call is made below
``sequential.MIN_UNITS`` units per variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.experiments import bayes, guardrails, sequential, srm
from stream.experiments.running import Running

DEFAULT_ALPHA = 0.05
DETECT = 0.02  # the effect the "keep running until" line plans for: 2 points of rate
MEAN_TAU_SD = 0.2  # continuous metrics: the mixture expects effects near a fifth of an sd


@dataclass(slots=True)
class VariantFigures:
    """What the stream knows of one variant: units, conversions, errors, vitals, means."""

    name: str
    weight: float
    units: int = 0
    conversions: int = 0
    units_with_errors: int = 0
    vitals: dict[str, guardrails.Vital] = field(default_factory=dict)
    means: dict[str, Running] = field(default_factory=dict)


def analyse(
    variants: list[VariantFigures],
    alpha: float = DEFAULT_ALPHA,
    tau: float = sequential.DEFAULT_TAU,
    dead_letter_share: float | None = None,
    guarded: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Every figure of one experiment, JSON-ready, with its ``decision`` line.

    ``guarded`` names the guardrails that apply (``LCP``, ``INP``, ``CLS``, ``errors``,
    ``dead_letters``); empty, every one does.
    """
    if len(variants) < 2:
        raise ValueError("an experiment needs a control and at least one variant")
    control, treated = variants[0], variants[1:]
    each_alpha = alpha / len(treated)
    rows = [_row(control, None, each_alpha, tau)]
    rows += [_row(variant, control, each_alpha, tau) for variant in treated]
    split = srm.p_value([v.units for v in variants], [v.weight for v in variants])
    harms = guardrails.dead_letter_harm(dead_letter_share)
    for variant in treated:
        harms += guardrails.vitals_harm(variant.name, control.vitals, variant.vitals, each_alpha)
        if min(control.units, variant.units) > 0:
            harms += guardrails.errors_harm(
                variant.name,
                (control.units, control.units_with_errors),
                (variant.units, variant.units_with_errors),
                each_alpha,
            )
    harms = [h for h in harms if not guarded or h.guardrail in guarded]
    figures = {
        "variants": rows,
        "srm": {"p_value": split, "mismatch": split < srm.ALPHA, "alpha": srm.ALPHA},
        "guardrails": [
            {"variant": h.variant, "name": h.guardrail, "detail": h.detail} for h in harms
        ],
        "alpha": alpha,
    }
    status, line = _decide(variants, rows, figures, each_alpha)
    return {**figures, "status": status, "decision": line}


def _row(
    variant: VariantFigures, control: VariantFigures | None, alpha: float, tau: float
) -> dict[str, Any]:
    rate = variant.conversions / variant.units if variant.units else 0.0
    row: dict[str, Any] = {
        "name": variant.name,
        "weight": variant.weight,
        "units": variant.units,
        "conversions": variant.conversions,
        "rate": rate,
        "means": {k: {"count": r.count, "mean": r.mean, "sd": r.variance**0.5}
                  for k, r in sorted(variant.means.items())},
    }  # fmt: skip
    if control is None:
        return row
    test = sequential.compare_rates(
        control.units, control.conversions, variant.units, variant.conversions, alpha, tau
    )
    mine = bayes.Posterior.of(variant.units, variant.conversions)
    theirs = bayes.Posterior.of(control.units, control.conversions)
    row["vs_control"] = {
        "difference": test.difference,
        "p_value": test.p_value,
        "low": test.low,
        "high": test.high,
        "fixed_p_value": test.fixed_p_value,
        "chance_to_beat": bayes.beats(mine, theirs),
        "expected_loss": bayes.expected_loss(mine, theirs),
        "means": {
            name: _compare_means(control.means[name], running, alpha)
            for name, running in sorted(variant.means.items())
            if name in control.means
        },
    }
    return row


def _compare_means(a: Running, b: Running, alpha: float) -> dict[str, float | None]:
    """Welch's difference of means with the mSPRT on it, the mixing scale a fifth of an sd."""
    difference = b.mean - a.mean
    if min(a.count, b.count) < sequential.MIN_UNITS:
        return {"difference": difference, "p_value": 1.0, "low": None, "high": None}
    v = a.variance / a.count + b.variance / b.count
    tau = MEAN_TAU_SD * max(((a.variance + b.variance) / 2) ** 0.5, 1e-9)
    r = float(sequential.radius(v, alpha, tau))
    p = float(sequential.p_value(difference, v, tau))
    return {"difference": difference, "p_value": p, "low": difference - r, "high": difference + r}


def _decide(
    variants: list[VariantFigures],
    rows: list[dict[str, Any]],
    figures: Mapping[str, Any],
    alpha: float,
) -> tuple[str, str]:
    control = variants[0]
    fewest = min(v.units for v in variants)
    if sum(v.units for v in variants) == 0:
        return "waiting", "waiting for the first exposure"
    if figures["srm"]["mismatch"]:
        total = sum(v.units for v in variants)
        seen = "/".join(f"{100 * v.units / total:.1f}" for v in variants)
        planned = "/".join(f"{100 * v.weight:g}" for v in variants)
        return "srm", (
            f"stop: sample ratio mismatch — units split {seen} against a planned {planned} "
            f"(p = {figures['srm']['p_value']:.2g}); fix assignment or exposure logging first"
        )
    if figures["guardrails"]:
        first = figures["guardrails"][0]
        who = "the pipeline" if first["variant"] == "*" else first["variant"]
        return "harm", f"stop: {who} breaks a guardrail ({first['detail']})"
    if fewest < sequential.MIN_UNITS:
        return "collecting", (
            f"collecting: {fewest} of {sequential.MIN_UNITS} units in the smallest variant "
            "before any call"
        )
    tested = [(row, row["vs_control"]) for row in rows[1:]]
    winners = [(r, t) for r, t in tested if t["p_value"] < alpha and t["difference"] > 0]
    if winners:
        row, t = max(winners, key=lambda rt: rt[1]["difference"])
        return "winner", (
            f"{row['name']} is better: {_points(t['difference'])} "
            f"({100 * (1 - alpha):.0f} % always-valid interval {_points(t['low'])} to "
            f"{_points(t['high'])}), {100 * t['chance_to_beat']:.0f} % chance to beat "
            f"{control.name}; safe to stop"
        )
    if all(t["p_value"] < alpha and t["difference"] < 0 for _, t in tested):
        return "loser", f"every variant is worse than {control.name}: stop and keep {control.name}"
    row, t = max(tested, key=lambda rt: rt[1]["chance_to_beat"])
    rate = control.conversions / control.units
    need = sequential.units_to_detect(rate, DETECT, alpha)
    until = (
        f"about {need:,} units per variant to detect {_points(DETECT)}"
        if need > fewest
        else "a larger effect shows or the planned stop"
    )
    return "running", (
        f"no clear difference yet ({row['name']}: {_points(t['difference'])}, "
        f"{100 * t['chance_to_beat']:.0f} % chance to beat {control.name}); "
        f"keep running until {until}"
    )


def _points(difference: float) -> str:
    return f"{100 * difference:+.1f} points"

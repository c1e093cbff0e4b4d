"""Guardrails: figures an experiment must not make worse, whatever its primary metric says.

Three kinds, each judged per variant against control:
- Core Web Vitals (LCP, INP, CLS on the variant's pages): harm when a variant's share of
  samples past the published "good" threshold is higher than control's with an always-valid
  p-value under alpha, and its p75 is worse too (a p75 alone drifts by chance: an A/A test
  tripped a 10 % rule within minutes). Samples of one session are not independent, so this
  errs towards flagging; a guardrail is a brake, not a verdict;
- error events (form field errors per unit): harm when a variant's rate is higher with an
  always-valid p-value under alpha (``stream.experiments.sequential``);
- the dead-letter share of the whole pipeline while the experiment runs: a variant that breaks
  the beacon shows up there first, though it cannot be told apart per variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from stream.experiments import sequential

# web.dev's "good" thresholds at p75; LCP and INP in ms, CLS unitless.
GOOD: Final = {"LCP": 2500.0, "INP": 200.0, "CLS": 0.1}
MAX_DEAD_LETTER_SHARE: Final = 0.05


@dataclass(frozen=True, slots=True)
class Vital:
    """A p75, how many samples it rests on and how many were past the "good" threshold."""

    p75: float
    samples: int
    over: int = 0


@dataclass(frozen=True, slots=True)
class Harm:
    """One guardrail a variant broke, in words."""

    variant: str
    guardrail: str
    detail: str


def vitals_harm(
    variant: str, control: Mapping[str, Vital], treated: Mapping[str, Vital], alpha: float
) -> list[Harm]:
    """The vitals on which ``treated`` is worse than ``control`` beyond chance."""
    harms = []
    for name, good in GOOD.items():
        a, b = control.get(name), treated.get(name)
        if a is None or b is None or b.p75 <= a.p75:
            continue
        p = float(sequential.rate_p_values(a.samples, a.over, b.samples, b.over))
        if p < alpha and b.over * a.samples > a.over * b.samples:
            detail = (
                f"{name} p75 {_show(name, b.p75)} against {_show(name, a.p75)}; "
                f"{b.over / b.samples:.0%} of samples past {_show(name, good)} "
                f"against {a.over / a.samples:.0%}"
            )
            harms.append(Harm(variant, name, detail))
    return harms


def errors_harm(
    variant: str, control: tuple[int, int], treated: tuple[int, int], alpha: float
) -> list[Harm]:
    """Harm when the share of units with an error event is higher in ``treated``."""
    (n_a, e_a), (n_b, e_b) = control, treated
    p = float(sequential.rate_p_values(n_a, e_a, n_b, e_b))
    if p < alpha and e_b * n_a > e_a * n_b:
        share_a, share_b = e_a / n_a, e_b / n_b
        return [Harm(variant, "errors", f"errors on {share_b:.1%} of units against {share_a:.1%}")]
    return []


def dead_letter_harm(share: float | None) -> list[Harm]:
    """Harm when the pipeline dead-letters more than ``MAX_DEAD_LETTER_SHARE`` of events."""
    if share is None or share <= MAX_DEAD_LETTER_SHARE:
        return []
    return [Harm("*", "dead_letters", f"{share:.1%} of events dead-lettered")]


def _show(name: str, value: float) -> str:
    return f"{value:.2f}" if name == "CLS" else f"{value:,.0f} ms"

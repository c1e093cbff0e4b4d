"""Guardrails: figures an experiment must not make worse, whatever its primary metric says.

Three kinds, each judged per variant against control:
- Core Web Vitals p75 (LCP, INP, CLS on the variant's pages): harm when a variant's p75 is past
  the published "good" threshold while control's is not, or worse than control's by more than
  ``VITAL_SLACK``, once each side has ``MIN_VITALS`` samples (a p75 of a handful is noise);
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
VITAL_SLACK: Final = 0.10
MIN_VITALS: Final = 50
MAX_DEAD_LETTER_SHARE: Final = 0.05


@dataclass(frozen=True, slots=True)
class Vital:
    """A p75 and how many samples it rests on."""

    p75: float
    samples: int


@dataclass(frozen=True, slots=True)
class Harm:
    """One guardrail a variant broke, in words."""

    variant: str
    guardrail: str
    detail: str


def vitals_harm(
    variant: str, control: Mapping[str, Vital], treated: Mapping[str, Vital]
) -> list[Harm]:
    """The vitals on which ``treated`` is worse than ``control`` beyond noise."""
    harms = []
    for name, good in GOOD.items():
        a, b = control.get(name), treated.get(name)
        if a is None or b is None or min(a.samples, b.samples) < MIN_VITALS:
            continue
        crossed = b.p75 > good >= a.p75
        # Far inside "good" (under half the threshold) a 10 % slip is not harm anyone feels.
        slipped = b.p75 > a.p75 * (1 + VITAL_SLACK) and b.p75 > good * 0.5
        if crossed or slipped:
            harms.append(
                Harm(variant, name, f"{name} p75 {_show(name, b.p75)} against {_show(name, a.p75)}")
            )
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

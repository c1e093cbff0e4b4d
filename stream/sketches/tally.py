"""A tally: what one channel saw in one window, in a form that merges exactly.

History keeps a tally per (channel, window). Counts add; unique counters and quantile
sketches merge as sketches, so a week's visitors are the union of its days (never a sum)
and a month's p75 comes from the month's values (never an average of daily p75s).

>>> a, b = Tally(), Tally()
>>> a.counts["views"] = 3
>>> b.counts["views"] = 4
>>> a.merge(b).counts["views"]
7
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stream.sketches import codec
from stream.sketches.quantiles import Quantiles
from stream.sketches.uniques import Uniques

# The quantiles a summary reports for every sketch (the Web Vitals' own thresholds use p75).
SUMMARY_QUANTILES = (0.5, 0.75, 0.95)


class TallyError(ValueError):
    """A tally's wire form that cannot be read (wrong types, corrupt sketch bytes)."""


@dataclass
class Tally:
    """Named counts, unique counters and quantile sketches of one window."""

    counts: dict[str, float] = field(default_factory=dict)
    uniques: dict[str, Uniques] = field(default_factory=dict)
    quantiles: dict[str, Quantiles] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """Whether nothing was tallied."""
        return not (self.counts or self.uniques or self.quantiles)

    def update(self, other: Tally) -> None:
        """Fold ``other`` into this tally in place."""
        for name, value in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        for name, uniques in other.uniques.items():
            mine = self.uniques.get(name)
            self.uniques[name] = uniques.copy() if mine is None else mine.merge(uniques)
        for name, sketch in other.quantiles.items():
            theirs = self.quantiles.get(name)
            self.quantiles[name] = sketch.copy() if theirs is None else theirs.merge(sketch)

    def merge(self, other: Tally) -> Tally:
        """A new tally of both inputs."""
        out = Tally()
        out.update(self)
        out.update(other)
        return out

    def summary(self) -> dict[str, float | None]:
        """Flat numbers: counts as they are, uniques as estimates, sketches as quantiles.

        A sketch ``lcp`` gives ``lcp.n`` (how many values) and ``lcp.p50``, ``lcp.p75``,
        ``lcp.p95`` (None while it holds no value).
        """
        out: dict[str, float | None] = dict(self.counts)
        for name, uniques in self.uniques.items():
            out[name] = uniques.count()
        for name, sketch in self.quantiles.items():
            out[f"{name}.n"] = sketch.count
            for q in SUMMARY_QUANTILES:
                out[f"{name}.p{round(q * 100)}"] = sketch.quantile(q)
        return out

    def to_wire(self) -> dict[str, Any]:
        """JSON-able form: sketches as base64 of their own encoding."""
        return {
            "counts": self.counts,
            "uniques": {k: codec.to_text(u.to_bytes()) for k, u in self.uniques.items()},
            "quantiles": {k: codec.to_text(q.to_bytes()) for k, q in self.quantiles.items()},
        }

    @classmethod
    def from_wire(cls, wire: Any) -> Tally:
        """Inverse of ``to_wire``; anything malformed raises ``TallyError``."""
        if not isinstance(wire, dict):
            raise TallyError("a tally is a JSON object")
        counts, uniques, quantiles = (wire.get(k, {}) for k in ("counts", "uniques", "quantiles"))
        for part in (counts, uniques, quantiles):
            if not isinstance(part, dict) or not all(isinstance(k, str) for k in part):
                raise TallyError("counts, uniques and quantiles are objects keyed by name")
        if not all(_is_number(v) for v in counts.values()):
            raise TallyError("every count is a number")
        try:
            return cls(
                counts=dict(counts),
                uniques={k: Uniques.from_bytes(codec.from_text(v)) for k, v in uniques.items()},
                quantiles={
                    k: Quantiles.from_bytes(codec.from_text(v)) for k, v in quantiles.items()
                },
            )
        except Exception as exc:  # any reader's complaint about bytes means the same here
            raise TallyError(f"a sketch in the tally cannot be read: {exc}") from exc


def merged(tallies: Iterable[Tally]) -> Tally:
    """One tally of all of ``tallies`` (an empty one for none)."""
    out = Tally()
    for tally in tallies:
        out.update(tally)
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

"""Deterministic assignment: hash(salt, unit id) into 10,000 buckets, weights onto ranges.

Nothing is stored to remember who saw what: the same experiment and unit always give the same
bucket. Three hashes with three salts keep the decisions independent of each other:
- the holdout (salt ``holdout``): a unit in the first ``holdout`` share sees no experiment;
- entry: within its layer (salt ``layer:<name>``) an experiment owns a slice of the buckets,
  ``[start, end)``, and takes the first ``traffic`` share of it; without a layer it takes the
  first ``traffic`` share of its own entry hash. Raising ``traffic`` from 10 % to 50 % only
  adds buckets, so everyone already in stays in; slices of one layer never overlap, so its
  experiments are mutually exclusive;
- the variant (salt: the experiment's own): cumulative weights cut the buckets into ranges,
  unchanged by a ramp, so nobody switches variant when traffic grows.
The unit is the collector's daily visitor id or the session id: an experiment cannot follow a
person across days, by design.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

BUCKETS: Final = 10_000
MAX_VARIANTS: Final = 8
MAX_UNIT: Final = 128
UNITS: Final = ("visitor", "session")
KEY: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class AssignmentError(ValueError):
    """An experiment's plan or a unit id cannot be used; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Plan:
    """How one experiment splits its units: checked on creation, immutable afterwards."""

    key: str
    variants: tuple[str, ...]
    cuts: tuple[int, ...]  # upper bucket bound of each variant's range
    traffic: float = 1.0
    layer: str | None = None
    start: float = 0.0
    end: float = 1.0
    unit: str = "visitor"

    @property
    def weights(self) -> tuple[float, ...]:
        """Each variant's planned share, as its bucket ranges give it."""
        lows = (0, *self.cuts[:-1])
        return tuple((hi - lo) / BUCKETS for lo, hi in zip(lows, self.cuts, strict=True))


def bucket(salt: str, unit: str) -> int:
    """The unit's bucket under ``salt``, 0..BUCKETS-1 (BLAKE2b: fast, stable across releases)."""
    digest = hashlib.blake2b(
        f"{salt}\x00{unit}".encode("utf-8", "surrogatepass"), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def plan(
    key: Any,
    variants: Any,
    traffic: Any = 1.0,
    layer: Any = None,
    layer_range: Any = (0.0, 1.0),
    unit: Any = "visitor",
) -> Plan:
    """A checked ``Plan`` from JSON-ish values; ``AssignmentError`` says which field is wrong."""
    if not isinstance(key, str) or KEY.fullmatch(key) is None:
        raise AssignmentError(
            "key", "must be 1-64 of a-z 0-9 _ - (starting with a letter or digit)"
        )
    names, weights = _variants(variants)
    total = math.fsum(weights)
    cuts, running = [], 0.0
    for weight in weights:
        running += weight
        cuts.append(round(BUCKETS * running / total))
    if any(hi <= lo for lo, hi in zip((0, *cuts[:-1]), cuts, strict=True)):
        raise AssignmentError("variants", f"every weight must be at least 1/{BUCKETS} of the total")
    share = _share("traffic", traffic)
    if layer is not None and (not isinstance(layer, str) or KEY.fullmatch(layer) is None):
        raise AssignmentError("layer", "must be null or 1-64 of a-z 0-9 _ -")
    if (
        not isinstance(layer_range, list | tuple)
        or len(layer_range) != 2
        or _share("layer_range", layer_range[0]) >= _share("layer_range", layer_range[1])
    ):
        raise AssignmentError("layer_range", "must be [start, end] with 0 <= start < end <= 1")
    if unit not in UNITS:
        raise AssignmentError("unit", "must be one of " + ", ".join(UNITS))
    start, end = float(layer_range[0]), float(layer_range[1])
    return Plan(key, names, tuple(cuts), share, layer, start, end, unit)


def check_layers(plans: Iterable[Plan]) -> None:
    """Refuse two experiments whose slices of one layer overlap (they would share units)."""
    by_layer: dict[str, list[Plan]] = {}
    for p in plans:
        if p.layer is not None:
            by_layer.setdefault(p.layer, []).append(p)
    for layer, members in by_layer.items():
        members.sort(key=lambda p: p.start)
        for left, right in itertools.pairwise(members):
            if right.start < left.end:
                raise AssignmentError(
                    "layer_range", f"{right.key} overlaps {left.key} in layer {layer}"
                )


def variant_of(p: Plan, unit: str, holdout: float = 0.0) -> str | None:
    """The unit's variant in ``p``, or None when it is held out or outside the traffic."""
    if not isinstance(unit, str) or not 0 < len(unit) <= MAX_UNIT:
        raise AssignmentError("unit", f"a unit id is a non-empty string of at most {MAX_UNIT}")
    if holdout and bucket("holdout", unit) < round(holdout * BUCKETS):
        return None
    if p.layer is None:
        low, high = 0, BUCKETS
        entry = bucket(f"{p.key}:entry", unit)
    else:
        low, high = round(p.start * BUCKETS), round(p.end * BUCKETS)
        entry = bucket(f"layer:{p.layer}", unit)
    if not low <= entry < low + round(p.traffic * (high - low)):
        return None
    place = bucket(p.key, unit)
    for name, cut in zip(p.variants, p.cuts, strict=True):
        if place < cut:
            return name
    raise AssertionError("the last cut is BUCKETS")  # pragma: no cover


def assign(plans: Iterable[Plan], units: Mapping[str, str], holdout: float = 0.0) -> dict[str, str]:
    """Variant per experiment for the units (``{"visitor": id, "session": id}``); out: absent."""
    got = {}
    for p in plans:
        unit = units.get(p.unit)
        chosen = None if unit is None else variant_of(p, unit, holdout)
        if chosen is not None:
            got[p.key] = chosen
    return got


def _variants(variants: Any) -> tuple[tuple[str, ...], list[float]]:
    if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
        raise AssignmentError("variants", f"must be a list of 2 to {MAX_VARIANTS} variants")
    names, weights = [], []
    for i, item in enumerate(variants):
        if not isinstance(item, dict) or set(item) != {"name", "weight"}:
            raise AssignmentError(f"variants[{i}]", 'must be {"name": ..., "weight": ...}')
        name, weight = item["name"], item["weight"]
        if not isinstance(name, str) or NAME.fullmatch(name) is None:
            raise AssignmentError(f"variants[{i}].name", "must be 1-64 of A-Z a-z 0-9 _ -")
        if name in names:
            raise AssignmentError(f"variants[{i}].name", f"{name} appears twice")
        if not _number(weight) or weight <= 0:
            raise AssignmentError(f"variants[{i}].weight", "must be a positive number")
        names.append(name)
        weights.append(float(weight))
    return tuple(names), weights


def _share(field: str, value: Any) -> float:
    if not _number(value) or not 0 <= value <= 1:
        raise AssignmentError(field, "must be a number from 0 to 1")
    return float(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

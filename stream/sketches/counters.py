"""Bounded keyed counters (urls, hosts, fields): exact per key up to a cap, then ``(other)``.

Keys come from visitors (urls, referrers, field names), so the number of distinct keys is
capped; counts for keys beyond the cap go to ``OTHER`` and totals stay exact.

>>> c: dict[str, int] = {}
>>> for url in ["/a", "/b", "/c", "/a"]:
...     bump(c, url, 1, cap=2)
>>> c
{'/a': 2, '/b': 1, '(other)': 1}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OTHER = "(other)"


def bump(counts: dict[str, int], key: str, n: int, cap: int) -> None:
    """Add ``n`` to ``counts[key]``, or to ``OTHER`` once ``cap`` distinct keys are held."""
    if key in counts:
        counts[key] += n
    elif len(counts) < cap:
        counts[key] = n
    elif OTHER in counts:
        counts[OTHER] += n
    else:
        counts[OTHER] = n  # held on top of the cap, so a full counter still sums exactly


def merge_counts(a: Mapping[str, int], b: Mapping[str, int], cap: int) -> dict[str, int]:
    """Sum two counters; past ``cap`` keys the smallest are folded into ``OTHER``."""
    out = dict(a)
    for key, n in b.items():
        out[key] = out.get(key, 0) + n
    real = [k for k in out if k != OTHER]
    if len(real) <= cap:
        return out
    real.sort(key=lambda k: (-out[k], k))
    other = out.get(OTHER, 0) + sum(out[k] for k in real[cap:])
    kept = {k: out[k] for k in real[:cap]}
    kept[OTHER] = other
    return kept


def top(counts: Mapping[str, int], k: int, key_name: str, value_name: str) -> list[dict[str, Any]]:
    """The ``k`` largest entries as ``[{key_name: key, value_name: n}]``, ties by key."""
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [{key_name: key, value_name: n} for key, n in best]

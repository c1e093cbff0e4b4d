"""Unique counting: an exact set while small, then a mergeable HyperLogLog++.

Keys are reduced once to a stable 64-bit fingerprint (``fingerprint``); callers cache it
per session so the hot path never hashes per event. Below ``EXACT_LIMIT`` distinct keys the
count is exact; above it the state becomes a ``datasketch.HyperLogLogPlusPlus`` with
``2**HLL_P`` registers, whose standard relative error is ``RELATIVE_ERROR`` (≈ 0.81 %;
about 99 % of estimates fall within 3x that). A sketch is a function of the *set* of keys
it saw, so ``merge`` in any order equals counting everything in one place.

>>> u = Uniques()
>>> for k in ["a", "b", "a"]:
...     u.add(fingerprint(k))
>>> u.count()
2
"""

from __future__ import annotations

import hashlib
import math
from array import array

from datasketch import HyperLogLogPlusPlus

from stream.sketches import hll

# Exact below this many keys: 8 bytes per key serialised; ground truth stays exact for a
# club-sized site while memory per sketch stays bounded (~0.5 MB as a Python set).
EXACT_LIMIT = 8192
HLL_P = 14  # 16,384 one-byte registers: 16 KiB serialised
RELATIVE_ERROR = 1.04 / math.sqrt(1 << HLL_P)
LIBRARY = hll.LIBRARY  # whose layout ``to_bytes`` holds, for checkpoints

_EXACT = b"E"
_HLL = b"H"


def fingerprint(key: str) -> int:
    """A stable 64-bit hash of ``key`` (same value in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


class Uniques:
    """A mergeable distinct counter over 64-bit fingerprints."""

    __slots__ = ("_exact", "_hll")

    def __init__(self) -> None:
        self._exact: set[int] | None = set()
        self._hll: HyperLogLogPlusPlus | None = None

    def add(self, h: int) -> None:
        """Count the fingerprint ``h``."""
        exact = self._exact
        if exact is not None:
            exact.add(h)
            if len(exact) > EXACT_LIMIT:
                self._to_hll()
        else:
            assert self._hll is not None
            self._hll.update(h)

    @property
    def is_exact(self) -> bool:
        """True while the count is exact."""
        return self._exact is not None

    def count(self) -> int:
        """The number of distinct fingerprints seen (estimated once past ``EXACT_LIMIT``)."""
        if self._exact is not None:
            return len(self._exact)
        assert self._hll is not None
        estimate: float = self._hll.count()
        return round(estimate)

    def update(self, other: Uniques) -> None:
        """Fold ``other`` into this counter in place."""
        if other._exact is not None:
            if self._exact is not None:
                self._exact |= other._exact
                if len(self._exact) > EXACT_LIMIT:
                    self._to_hll()
            else:
                assert self._hll is not None
                hll.fold(self._hll, other._exact)
            return
        assert other._hll is not None
        if self._exact is not None:
            self._to_hll()
        assert self._hll is not None
        self._hll.merge(other._hll)

    def merge(self, other: Uniques) -> Uniques:
        """A new counter of the union of both."""
        out = self.copy()
        out.update(other)
        return out

    def copy(self) -> Uniques:
        """An independent copy."""
        out = Uniques()
        if self._exact is not None:
            out._exact = set(self._exact)
        else:
            assert self._hll is not None
            out._exact = None
            out._hll = self._hll.copy()
        return out

    def to_bytes(self) -> bytes:
        """Compact form: sorted fingerprints while exact, else the HLL registers."""
        if self._exact is not None:
            return _EXACT + array("Q", sorted(self._exact)).tobytes()
        assert self._hll is not None
        return _HLL + hll.to_bytes(self._hll)

    @classmethod
    def from_bytes(cls, data: bytes) -> Uniques:
        """Rebuild a counter written by ``to_bytes``."""
        out = cls()
        kind, body = data[:1], data[1:]
        if kind == _EXACT:
            out._exact = set(array("Q", body))
        elif kind == _HLL:
            if len(body) != 1 << HLL_P:
                raise ValueError(f"an HLL of {len(body)} registers, not {1 << HLL_P}")
            out._exact = None
            out._hll = hll.from_bytes(body)
        else:
            raise ValueError(f"not a Uniques encoding: {kind!r}")
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Uniques):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

    def _to_hll(self) -> None:
        assert self._exact is not None
        sketch = hll.new(HLL_P)
        hll.fold(sketch, self._exact)
        self._hll = sketch
        self._exact = None

"""A mergeable quantile sketch: ``ddsketch`` with 1 % relative accuracy, compactly serialised.

Adding, merging and querying go through ddsketch's public API; the bins are written and
read by ``stream.sketches.dense_store`` (faster than ddsketch's protobuf codec, and no extra
dependency). Any quantile it reports lies within ``RELATIVE_ACCURACY`` of the exact
lower-rank quantile ``sorted(xs)[floor(q * (n - 1))]``.

>>> q = Quantiles()
>>> for v in range(1, 101):
...     q.add(float(v))
>>> abs(q.quantile(0.5) - 50) <= 0.5
True
"""

from __future__ import annotations

import struct

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import DenseStore

from stream.sketches import dense_store

RELATIVE_ACCURACY = 0.01
# Immutable, so one mapping serves every sketch (and makes them mergeable by construction).
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)

_HEAD = struct.Struct("<dII")  # zero count, positive bin count, negative bin count
LIBRARY = dense_store.LIBRARY  # whose layout ``to_bytes`` holds, for checkpoints


class Quantiles:
    """Mergeable quantile sketch (DDSketch, 1 % relative accuracy)."""

    __slots__ = ("_neg", "_pos", "_sketch")

    def __init__(self, zero_count: float = 0.0) -> None:
        self._pos = DenseStore()
        self._neg = DenseStore()
        self._sketch = BaseDDSketch(_MAPPING, self._pos, self._neg, zero_count)

    def add(self, value: float) -> None:
        """Count one value."""
        self._sketch.add(value)

    def remove(self, value: float) -> bool:
        """Take back one value added before; False (and nothing changed) if none is held.

        Values are held by bin, so this takes one value of ``value``'s bin: every quantile
        is then what it would be had that value never been added.
        """
        zero = self._zero()
        if value > _MAPPING.min_possible:
            if not dense_store.take(self._pos, _MAPPING.key(value)):
                return False
        elif value >= 0 and zero >= 1:
            zero -= 1
        else:
            return False
        # The sketch counts its values itself: build it anew over the stores, as from_bytes does.
        self._sketch = BaseDDSketch(_MAPPING, self._pos, self._neg, zero)
        return True

    @property
    def count(self) -> int:
        """How many values were added."""
        return int(self._sketch.count)

    def quantile(self, q: float) -> float | None:
        """The value at quantile ``q`` (0..1), or None when empty."""
        value = self._sketch.get_quantile_value(q)
        return None if value is None else float(value)

    def update(self, other: Quantiles) -> None:
        """Fold ``other`` into this sketch in place."""
        self._sketch.merge(other._sketch)

    def _zero(self) -> float:
        # The sketch holds the stores it was built with, so the rest of its count is zeros.
        return float(self._sketch.count - self._pos.count - self._neg.count)

    def merge(self, other: Quantiles) -> Quantiles:
        """A new sketch of both inputs."""
        out = self.copy()
        out.update(other)
        return out

    def copy(self) -> Quantiles:
        """An independent copy."""
        out = Quantiles()
        out.update(self)  # merging into an empty sketch copies the stores' bins
        return out

    def to_bytes(self) -> bytes:
        """Bins of both stores plus the zero count."""
        n_pos, pos = dense_store.to_bytes(self._pos)
        n_neg, neg = dense_store.to_bytes(self._neg)
        return _HEAD.pack(self._zero(), n_pos, n_neg) + pos + neg

    @classmethod
    def from_bytes(cls, data: bytes) -> Quantiles:
        """Rebuild a sketch written by ``to_bytes``."""
        zero, n_pos, n_neg = _HEAD.unpack_from(data)
        view = memoryview(data)[_HEAD.size :]
        out = cls()
        used = dense_store.read(out._pos, view, n_pos)
        dense_store.read(out._neg, view[used:], n_neg)
        # The sketch derives its total count from the stores, so build it after filling them.
        out._sketch = BaseDDSketch(_MAPPING, out._pos, out._neg, zero)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantiles):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

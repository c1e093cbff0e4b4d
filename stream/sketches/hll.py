"""The one place that knows the register layout of datasketch's ``HyperLogLogPlusPlus``.

Everything else goes through datasketch's public API (``update``, ``merge``, ``count``,
``digest()`` and the ``reg=`` constructor). Two things here rely on how datasketch lays out
its registers, which its documentation does not promise: ``fold`` computes the registers
of many hashes at once (``update`` costs ~4 µs per value in Python: bench/sketch_codec.py),
and ``to_bytes`` stores them as they are. Both were written for ``WRITTEN_FOR``; checkpoints
holding registers record the installed version, and a test fails on any other version.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from datasketch import HyperLogLogPlusPlus

LIBRARY = "datasketch"
WRITTEN_FOR = "2.0.0"
_HASH_BITS = 64  # HyperLogLog++ reads 64-bit hashes


def _identity(value: int) -> int:
    # Keys arrive already hashed (``uniques.fingerprint``); hashing again would only cost time.
    return value


def new(p: int) -> HyperLogLogPlusPlus:
    """An empty sketch of ``2**p`` registers over pre-hashed 64-bit keys."""
    return HyperLogLogPlusPlus(p=p, hashfunc=_identity)


def fold(sketch: HyperLogLogPlusPlus, hashes: Collection[int]) -> None:
    """Add every hash of ``hashes`` to ``sketch``: what ``update`` does per value, vectorised."""
    if not hashes:
        return
    p = sketch.p
    values = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
    # datasketch's rule: index = low p bits, rank = (64 - p) - bit_length(rest) + 1.
    index = (values & np.uint64((1 << p) - 1)).astype(np.intp)
    # The remaining bits (at most 60) are exact in a float64 when p >= 11, so frexp's
    # exponent is the bit length.
    _, bit_length = np.frexp((values >> np.uint64(p)).astype(np.float64))
    registers = np.zeros(1 << p, dtype=np.int8)
    np.maximum.at(registers, index, (_HASH_BITS - p - bit_length + 1).astype(np.int8))
    sketch.merge(HyperLogLogPlusPlus(reg=registers, hashfunc=_identity))


def to_bytes(sketch: HyperLogLogPlusPlus) -> bytes:
    """The registers, one byte each (``serialize()`` is 100x+ slower: bench/sketch_codec.py)."""
    registers: bytes = sketch.digest().astype(np.int8).tobytes()
    return registers


def from_bytes(data: bytes) -> HyperLogLogPlusPlus:
    """Rebuild a sketch written by ``to_bytes``."""
    registers = np.frombuffer(data, dtype=np.int8).copy()
    return HyperLogLogPlusPlus(reg=registers, hashfunc=_identity)

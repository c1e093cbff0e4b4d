"""The one place that reads and writes the bins of a ddsketch ``DenseStore`` directly.

A quantile sketch is serialised as its bins (``bins``, ``offset``, ``min_key``,
``max_key`` and ``count``, the attributes ``DenseStore`` documents). ddsketch's public
protobuf codec decodes 20-40x slower (it re-adds every bin) and needs ``protobuf``
(bench/sketch_codec.py), so this stays, written for ``WRITTEN_FOR``: checkpoints holding
bins record the installed version, and a test fails on any other version.
"""

from __future__ import annotations

import struct
from array import array

from ddsketch.store import DenseStore

LIBRARY = "ddsketch"
WRITTEN_FOR = "3.0.1"
_FIRST = struct.Struct("<q")  # first key of the serialised bins


def to_bytes(store: DenseStore) -> tuple[int, bytes]:
    """How many bins, and their bytes (first key, then one double per bin)."""
    if store.count == 0:
        return 0, b""
    lo = store.min_key - store.offset
    hi = store.max_key - store.offset + 1
    # Weights are always 1.0 per value, so bins hold whole counts; doubles keep merges exact.
    bins = array("d", store.bins[lo:hi])
    return len(bins), _FIRST.pack(store.min_key) + bins.tobytes()


def read(store: DenseStore, data: memoryview, n_bins: int) -> int:
    """Fill the empty ``store`` with ``n_bins`` bins from ``data``; returns the bytes used."""
    if n_bins == 0:
        return 0
    size = _FIRST.size + 8 * n_bins
    if len(data) < size:
        raise ValueError(f"{n_bins} bins need {size} bytes, {len(data)} left")
    (min_key,) = _FIRST.unpack_from(data)
    bins = array("d")
    bins.frombytes(data[_FIRST.size : size])
    store.bins = bins.tolist()
    store.offset = min_key
    store.min_key = min_key
    store.max_key = min_key + n_bins - 1
    store.count = float(sum(store.bins))
    return size


def take(store: DenseStore, key: int) -> bool:
    """Take one value out of the bin of ``key``; False when that bin holds none."""
    if store.count < 1 or not store.min_key <= key <= store.max_key:
        return False
    index = key - store.offset
    if store.bins[index] < 1:
        return False
    # Whole counts in doubles (see ``to_bytes``): taking one away is exact. An emptied bin at
    # either end stays inside min_key..max_key, which ranks and merges read as zeros.
    store.bins[index] -= 1.0
    store.count -= 1.0
    return True

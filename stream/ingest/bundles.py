"""The shape of ``dojo.events`` messages: bundles of session batches, one per partition.

Validation turns each raw request into one batch per session. Sent one batch per Kafka
message, every reader paid the stream runtime's per-message cost for each batch of about
three events, and that cost, not the metrics, decided throughput (see ``bench/``). So the
validate agent groups the batches of one take by the partition their session belongs to
and sends each group as one message, ``{"batches": [...]}``.

A session always maps to the same partition (CRC-32 of its id), so per-session state
(funnels, journeys) still lives in one place, and within a partition the batches of one raw
partition keep their order: readers drop re-sent batches by their source position exactly
as before (``stream.runtime.rollup``).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Final

import orjson

from stream.ingest.screen import is_clean_batch

# Kafka's default message limit is 1 MiB; a bundle stays well under it. One raw request is
# at most 64 KiB, so a single batch always fits.
MAX_BUNDLE_BYTES: Final = 512 * 1024


def partition_of(session_id: str, partitions: int) -> int:
    """The ``dojo.events`` partition of a session: stable across processes and restarts."""
    return zlib.crc32(session_id.encode()) % partitions


def pack(batches: Iterable[dict[str, Any]], partitions: int) -> list[tuple[int, bytes]]:
    """(partition, encoded bundle) for the batches, in order, each under the size cap."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for batch in batches:
        groups.setdefault(partition_of(batch["session_id"], partitions), []).append(batch)
    return [(p, blob) for p, group in sorted(groups.items()) for blob in _encode(group)]


def _encode(batches: list[dict[str, Any]]) -> list[bytes]:
    blob = orjson.dumps({"batches": batches})
    if len(blob) <= MAX_BUNDLE_BYTES or len(batches) == 1:
        return [blob]
    # Cut into as many equal runs as the size asks for (runs still too big are cut again).
    runs = min(len(batches), -(-len(blob) // MAX_BUNDLE_BYTES) + 1)
    step = -(-len(batches) // runs)
    return [out for n in range(0, len(batches), step) for out in _encode(batches[n : n + step])]


def unpack(value: bytes | None) -> list[dict[str, Any]] | None:
    """The session batches of one ``dojo.events`` message, or None if it is not a bundle."""
    try:
        bundle = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    batches = bundle.get("batches") if isinstance(bundle, dict) else None
    if not isinstance(batches, list) or not all(is_clean_batch(b) for b in batches):
        return None
    return batches


class Decoded:
    """Bundles decoded once per worker for all its agents (each reads every message).

    Keyed by (partition, offset); bounded, oldest out first. An agent that falls further
    behind than ``size`` messages decodes again: slower, never wrong. A bundle holds up to
    a take of events, so the bound is small: agents read the same messages at about the
    same time. Readers must not change the batches they get (the states only read them).
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[int, int], list[dict[str, Any]] | None] = OrderedDict()
        self.decoded = 0

    def batches(
        self, partition: int, offset: int, value: bytes | None
    ) -> list[dict[str, Any]] | None:
        """``unpack(value)``, from the cache when another agent has decoded it already."""
        key = (partition, offset)
        if key in self._cache:
            return self._cache[key]
        batches = self._cache[key] = unpack(value)
        self.decoded += 1
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return batches


def batches_of(bundles: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every session batch of decoded bundles, in order (for readers of the topic)."""
    return [batch for bundle in bundles for batch in bundle["batches"]]

"""One Kafka record as bytes in a backup file, and back: a length-prefixed binary frame.

A frame is fixed-size head (offset, timestamp, timestamp type, key and value lengths, header
count; -1 for a null key or value), the key and value bytes, then each header as
(name length, value length, name, value). Binary, not JSON: values are arbitrary bytes and
a backup of a million events should cost what copying them costs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

HEAD = struct.Struct(">qqbiiH")
HEADER = struct.Struct(">Hi")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class FrameError(ValueError):
    """A backup file's records end mid-frame or hold an impossible length."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One record of one partition as the broker held it."""

    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def _length(data: bytes | None) -> int:
    return -1 if data is None else len(data)


def encode(offset: int, timestamp: int, timestamp_type: int, key: bytes | None,
           value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> bytes:  # fmt: skip
    """The frame of one record."""
    parts = [HEAD.pack(offset, timestamp, timestamp_type, _length(key), _length(value),
                       len(headers)), key or b"", value or b""]  # fmt: skip
    for name, data in headers:
        raw = name.encode()
        parts += [HEADER.pack(len(raw), len(data)), raw, data]
    return b"".join(parts)


def _exactly(source: Readable, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise FrameError(f"the records end mid-record ({len(data)} of {size} bytes)")
    return data


def _maybe(source: Readable, size: int) -> bytes | None:
    if size < -1:
        raise FrameError(f"impossible length {size}")
    return None if size == -1 else _exactly(source, size)


def decode(source: Readable) -> Iterator[Frame]:
    """Every frame of ``source`` in order; ``FrameError`` when it ends mid-frame."""
    while head := source.read(HEAD.size):
        if len(head) != HEAD.size:
            raise FrameError("the records end mid-record (a truncated head)")
        offset, timestamp, ts_type, key_len, value_len, count = HEAD.unpack(head)
        key, value = _maybe(source, key_len), _maybe(source, value_len)
        headers = []
        for _ in range(count):
            name_len, data_len = HEADER.unpack(_exactly(source, HEADER.size))
            name = _exactly(source, name_len).decode("utf-8", "replace")
            headers.append((name, _maybe(source, data_len) or b""))
        yield Frame(offset, timestamp, ts_type, key, value, tuple(headers))

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


BLOCK = 1 << 20  # bytes read from the source at a time


class _Short(Exception):
    """The buffer ends inside this frame: read more."""


def _parse(data: bytes, pos: int) -> tuple[Frame, int]:
    """The frame at ``pos`` and the position after it; ``_Short`` if ``data`` ends first."""
    if len(data) - pos < HEAD.size:
        raise _Short
    offset, timestamp, ts_type, key_len, value_len, count = HEAD.unpack_from(data, pos)
    pos += HEAD.size
    fields: list[bytes | None] = []
    for size in (key_len, value_len):
        if size < -1:
            raise FrameError(f"impossible length {size}")
        if size == -1:
            fields.append(None)
            continue
        if len(data) - pos < size:
            raise _Short
        fields.append(data[pos : pos + size])
        pos += size
    headers = []
    for _ in range(count):
        if len(data) - pos < HEADER.size:
            raise _Short
        name_len, data_len = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        if data_len < -1:
            raise FrameError(f"impossible length {data_len}")
        if len(data) - pos < name_len + max(data_len, 0):
            raise _Short
        name = data[pos : pos + name_len].decode("utf-8", "replace")
        pos += name_len
        headers.append((name, data[pos : pos + max(data_len, 0)]))
        pos += max(data_len, 0)
    return Frame(offset, timestamp, ts_type, fields[0], fields[1], tuple(headers)), pos


def decode(source: Readable) -> Iterator[Frame]:
    """Every frame of ``source`` in order; ``FrameError`` when it ends mid-frame."""
    data, pos = b"", 0
    while True:
        try:
            frame, pos = _parse(data, pos)
        except _Short:
            block = source.read(BLOCK)
            if not block:
                if pos == len(data):
                    return
                raise FrameError(
                    f"the records end mid-record ({len(data) - pos} bytes of a record)"
                ) from None
            data, pos = data[pos:] + block, 0
            continue
        yield frame

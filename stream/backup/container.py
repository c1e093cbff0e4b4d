"""The file format of every part of a backup: a header, then zstd, optionally sealed.

Header: ``DPBK`` + format byte + flags byte (1: sealed) + the backup id (length-prefixed),
so a file copied in from another backup is named as such. Unsealed, a zstd stream follows
(with its content checksum). Sealed, the zstd stream is cut into chunks, each AES-256-GCM
with a fresh nonce and the header, its index and a last-chunk flag as associated data: a
chunk altered, reordered, dropped or cut off fails to open, and so does a file cut after a
chunk (no last chunk). Written and read in chunks: never a whole file in memory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"DPBK"
FORMAT = 1
SEALED = 1
CHUNK = 1 << 20  # plaintext bytes per sealed chunk; also the read size
CHUNK_HEAD = struct.Struct(">IB12s")  # ciphertext length, last flag, nonce
LEVEL = 3  # zstd's default: ~3x on events at several hundred MB/s on one core


class ContainerError(ValueError):
    """A backup file is not whole: altered, cut short, sealed with another key, or foreign."""


@dataclass(frozen=True)
class Written:
    """What the manifest records of one file."""

    sha256: str
    bytes: int


def parse_key(text: str) -> bytes:
    """The 256-bit key of ``DOJO_BACKUP_KEY`` (URL-safe base64); ``ContainerError`` if not one."""
    try:
        key = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != 32:
        raise ContainerError("DOJO_BACKUP_KEY must be 32 bytes in URL-safe base64 (44 chars)")
    return key


def key_id(key: bytes) -> str:
    """A name for a key that does not reveal it: which key sealed a backup."""
    return hashlib.sha256(b"dojo-pulse backup key id|" + key).hexdigest()[:16]


def _header(backup_id: str, sealed: bool) -> bytes:
    raw = backup_id.encode()
    return MAGIC + bytes([FORMAT, SEALED if sealed else 0, len(raw)]) + raw


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, last)


class _Sealer:
    """Cuts what it is given into sealed chunks handed to ``emit``."""

    def __init__(self, key: bytes, header: bytes, emit: Callable[[bytes], None]) -> None:
        self.aead, self.header, self.emit = AESGCM(key), header, emit
        self.buffer = bytearray()
        self.index = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) > CHUNK:
            self._seal(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]
        return len(data)

    def finish(self) -> None:
        self._seal(bytes(self.buffer), last=True)

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, plain, _aad(self.header, self.index, last))
        self.emit(CHUNK_HEAD.pack(len(sealed), last, nonce) + sealed)
        self.index += 1


class _Plain:
    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self.write_through = emit

    def write(self, data: bytes) -> int:
        self.write_through(data)
        return len(data)


class ContainerWriter:
    """Write one backup file: ``write`` bytes, then ``close`` for its digest and size."""

    def __init__(self, path: Path, backup_id: str, key: bytes | None = None) -> None:
        self.path = path
        self._raw = path.open("wb")
        self._hash = hashlib.sha256()
        self._size = 0
        header = _header(backup_id, key is not None)
        self._emit(header)
        self._sealer = _Sealer(key, header, self._emit) if key is not None else None
        target = self._sealer or _Plain(self._emit)
        compressor = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True)
        self._zstd = compressor.stream_writer(cast(IO[bytes], target), closefd=False)

    def _emit(self, data: bytes) -> None:
        self._raw.write(data)
        self._hash.update(data)
        self._size += len(data)

    def write(self, data: bytes) -> None:
        self._zstd.write(data)

    def close(self) -> Written:
        """Finish the file, flush it to disk and say what it is."""
        self._zstd.close()  # type: ignore[no-untyped-call]
        if self._sealer is not None:
            self._sealer.finish()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        return Written(self._hash.hexdigest(), self._size)

    def abort(self) -> None:
        self._raw.close()


def digest(path: Path) -> Written:
    """The SHA-256 and size of a file as it is on disk, read in chunks."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as raw:
        while block := raw.read(CHUNK):
            sha.update(block)
            size += len(block)
    return Written(sha.hexdigest(), size)


class ContainerReader:
    """The plain bytes of one backup file, read in chunks (``read(n)``, a binary stream)."""

    def __init__(self, path: Path, backup_id: str, key: bytes | None = None) -> None:
        self.name = path.name
        self._raw: BinaryIO = path.open("rb")
        head = self._raw.read(7)
        if len(head) < 7 or head[:4] != MAGIC or head[4] != FORMAT:
            self._fail("is not a Dojo Pulse backup file")
        owner = self._raw.read(head[6]).decode("utf-8", "replace")
        if owner != backup_id:
            self._fail(f"belongs to backup {owner[:60]!r}, not {backup_id!r}")
        self._header = head + owner.encode()
        self._sealed = bool(head[5] & SEALED)
        if self._sealed and key is None:
            self._fail("is encrypted: set DOJO_BACKUP_KEY to the key that sealed it")
        self._aead = AESGCM(key) if self._sealed and key is not None else None
        self._index, self._last_seen = 0, False
        self._zstd = zstandard.ZstdDecompressor().decompressobj()
        self._pending = bytearray()
        self._done = False

    def _fail(self, why: str) -> None:
        self._raw.close()
        raise ContainerError(f"{self.name} {why}")

    def _next_compressed(self) -> bytes:
        if self._aead is None:
            return self._raw.read(CHUNK)
        if self._last_seen:
            if self._raw.read(1):
                self._fail("has bytes after its last sealed chunk")
            return b""
        head = self._raw.read(CHUNK_HEAD.size)
        if not head:
            self._fail("is cut short (its last sealed chunk is missing)")
        if len(head) != CHUNK_HEAD.size:
            self._fail("is cut short mid-chunk")
        length, last, nonce = CHUNK_HEAD.unpack(head)
        sealed = self._raw.read(length)
        if len(sealed) != length:
            self._fail("is cut short mid-chunk")
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(self._header, self._index, bool(last)))
        except InvalidTag:
            self._fail(f"chunk {self._index} does not open: altered, or another key sealed it")
        self._index += 1
        self._last_seen = bool(last)
        return plain if plain else self._next_compressed()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` plain bytes (all the rest for -1); b"" at the end."""
        while not self._done and (size < 0 or len(self._pending) < size):
            block = self._next_compressed()
            if not block:
                if not self._zstd.eof:
                    self._fail("is cut short (its compressed stream does not end)")
                self._done = True
                break
            try:
                self._pending += self._zstd.decompress(block)
            except zstandard.ZstdError as exc:
                self._fail(f"does not decompress: {exc}")
        size = len(self._pending) if size < 0 else min(size, len(self._pending))
        out = bytes(self._pending[:size])
        del self._pending[:size]
        return out

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

"""The one checkpoint codec of every metric state: kind, schema version, library versions.

A checkpoint is ``MAGIC`` then zlib-compressed JSON ``{"kind", "v", "libs", "data"}``:
``kind`` names the state, ``v`` the version of the state's own schema of ``data``, and
``libs`` the installed version of every library whose internal layout ``data`` holds (a
sketch's registers, say). ``decode`` checks all three and hands ``data`` to the reader of
its version, so a state that changes its schema adds a reader and keeps the old ones.

Checkpoints written before this codec (zlib JSON whose ``"v": 1`` nobody read) still
restore: they read as version 1 with their top-level dict as ``data``.

>>> data = encode("demo", 1, {"n": 3})
>>> decode("demo", data, {1: lambda d: d["n"]})
3
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import Any, TypeVar

import orjson

MAGIC = b"DJCK"  # zlib streams start with 0x78, so legacy checkpoints never begin with this
_LEVEL = 1  # checkpoints are written every second: speed over the last few percent of size

T = TypeVar("T")
Reader = Callable[[Any], T]


class CheckpointError(ValueError):
    """A checkpoint this release cannot read: corrupt, of another kind, or too new."""


@cache
def library_version(name: str) -> str:
    """The installed version of the distribution ``name`` (read once per process)."""
    return installed_version(name)


def to_text(data: bytes) -> str:
    """Bytes (a sketch's own encoding) as text that JSON can hold."""
    return base64.b64encode(data).decode()


def from_text(text: str) -> bytes:
    """Inverse of ``to_text``."""
    return base64.b64decode(text, validate=True)


def encode(kind: str, version: int, payload: Any, libraries: Iterable[str] = ()) -> bytes:
    """A checkpoint of ``payload`` (JSON-able) as schema ``version`` of ``kind``."""
    envelope = {
        "kind": kind,
        "v": version,
        "libs": {name: library_version(name) for name in libraries},
        "data": payload,
    }
    return MAGIC + zlib.compress(orjson.dumps(envelope), _LEVEL)


def _open(kind: str, data: bytes) -> tuple[object, Mapping[str, object], Any]:
    legacy = not data.startswith(MAGIC)
    try:
        raw = orjson.loads(zlib.decompress(data if legacy else data[len(MAGIC) :]))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise CheckpointError(f"{kind} checkpoint is corrupt ({exc})") from exc
    if not isinstance(raw, dict):
        raise CheckpointError(f"{kind} checkpoint is corrupt (no header)")
    if legacy:
        return raw.get("v"), {}, raw
    if raw.get("kind") != kind:
        raise CheckpointError(f"checkpoint holds {raw.get('kind')!r} state, not {kind!r}")
    libs = raw.get("libs")
    if not isinstance(libs, dict) or "data" not in raw:
        raise CheckpointError(f"{kind} checkpoint is corrupt (no header)")
    return raw.get("v"), libs, raw["data"]


def check_libraries(kind: str, libs: Mapping[str, object]) -> None:
    """Refuse a ``kind`` checkpoint written with other versions of ``libs`` than installed."""
    for name, wrote in libs.items():
        try:
            here = library_version(name)
        except PackageNotFoundError:
            here = "nothing"
        if wrote != here:
            raise CheckpointError(
                f"{kind} checkpoint was written with {name} {wrote}, this worker has {name}"
                f" {here}: its layout may differ; run the writing version or drop the checkpoint"
            )


def decode(kind: str, data: bytes, readers: Mapping[int, Reader[T]]) -> T:
    """The state in checkpoint ``data`` of ``kind``, built by the reader of its version.

    Raises ``CheckpointError`` (one line saying what is wrong) for corrupt bytes, another
    kind, a version with no reader, or a library version other than the one installed.
    """
    version, libs, payload = _open(kind, data)
    reader = readers.get(version) if isinstance(version, int) else None
    if reader is None:
        known = ", ".join(str(v) for v in sorted(readers))
        newer = isinstance(version, int) and version > max(readers)
        hint = "written by a newer release: upgrade this worker" if newer else "unknown version"
        raise CheckpointError(f"{kind} checkpoint v{version}: {hint} (this one reads v{known})")
    check_libraries(kind, libs)
    try:
        return reader(payload)
    except CheckpointError:
        raise
    # A payload of the right version but the wrong shape; bad base64 is a ValueError too.
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, struct.error) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise CheckpointError(f"{kind} checkpoint v{version} is corrupt ({reason})") from exc

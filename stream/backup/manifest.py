"""What one backup holds: ``manifest.json``, written last, read first.

It names the backup (its id is its directory's name), the product, the store's schema
revision and this format's version, whether the files are sealed and by which key, every
file with its SHA-256 and size, and for every topic its partitions and configs and for
every partition the record count and offset range; the consumer groups' offsets; the
store's tables with their row counts. Nothing in it is personal: topic and table names,
numbers and digests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

FORMAT = 1
NAME = "manifest.json"
# What a backup never holds, and why (README "Backups and recovery" says the same).
EXCLUDED = {
    "visitor salts": "a restored salt would let old visitor ids be linked again",
    "admin sessions": "a restored session would sign an admin in again",
    "dedupe claims": "rebuilt from dojo.events when missing",
    "rate limits": "a minute's counts, worthless tomorrow",
}


class ManifestError(ValueError):
    """A manifest that cannot be read, is of another format, or names another backup."""


@dataclass
class Part:
    """One partition of one topic: its file and what the file holds."""

    partition: int
    file: str
    records: int = 0
    first: int = -1  # offsets of the first and last record (-1: none)
    last: int = -1
    start: int = 0  # the partition's log start and end offsets at the cut
    end: int = 0


@dataclass
class Topic:
    name: str
    partitions: int
    replication: int
    config: dict[str, str]
    parts: list[Part] = field(default_factory=list)


@dataclass
class Manifest:
    """Everything ``verify`` and ``restore`` need to know about one backup."""

    id: str
    created_ms: int
    topic_prefix: str
    app_id: str
    product_version: str = field(default_factory=lambda: version("dojo-pulse"))
    format: int = FORMAT
    store_revision: str | None = None
    store_dialect: str = ""
    store_file: str = ""
    tables: dict[str, int] = field(default_factory=dict)
    redis_file: str = ""
    redis_keys: int = 0
    sealed_by: str | None = None  # the key id (``container.key_id``); None: not encrypted
    topics: list[Topic] = field(default_factory=list)
    groups: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # group/topic/p
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> sha256, bytes
    finished_ms: int = 0
    excluded: dict[str, str] = field(default_factory=lambda: dict(EXCLUDED))

    @property
    def records(self) -> int:
        return sum(part.records for topic in self.topics for part in topic.parts)

    @property
    def size(self) -> int:
        return sum(int(entry["bytes"]) for entry in self.files.values())

    def save(self, directory: Path) -> None:
        """Write the manifest (temporary name, fsync, rename)."""
        temporary = directory / f".{NAME}.tmp"
        with temporary.open("wb") as out:
            out.write(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(directory / NAME)


def load(directory: Path) -> Manifest:
    """The manifest of the backup in ``directory``; ``ManifestError`` names what is wrong."""
    path = directory / NAME
    try:
        raw = orjson.loads(path.read_bytes())
        if not isinstance(raw.get("topics"), list):
            raise TypeError("topics is not a list")
        topics = [
            Topic(**{**t, "parts": [Part(**p) for p in t["parts"]]}) for t in raw.pop("topics")
        ]
        manifest = Manifest(**raw, topics=topics)
    except FileNotFoundError:
        raise ManifestError(f"{directory.name}: no {NAME} (unfinished, or not a backup)") from None
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise ManifestError(f"{directory.name}: {NAME} cannot be read ({exc})") from None
    wrong = _wrong_shape(manifest)
    if wrong:
        raise ManifestError(f"{directory.name}: {NAME} is not a manifest: {wrong}")
    if manifest.format != FORMAT:
        raise ManifestError(f"{directory.name}: manifest format {manifest.format}, not {FORMAT}")
    if manifest.id != directory.name:
        raise ManifestError(
            f"{directory.name}: its manifest belongs to backup {manifest.id[:60]!r} (foreign)"
        )
    return manifest


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _map(value: object, check: Callable[[object], bool]) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and check(v) for k, v in value.items()
    )


def _inside(name: object) -> bool:
    """A file name that stays inside the backup's directory."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name != NAME


def _file_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and _int(entry.get("bytes"))
    )


def _wrong_shape(m: Manifest) -> str:
    """What in a parsed manifest has the wrong type or points outside ("" if nothing)."""
    texts = ("id", "topic_prefix", "app_id", "product_version", "store_dialect", "store_file",
             "redis_file")  # fmt: skip
    checks = {
        "numbers": all(
            _int(getattr(m, f)) for f in ("created_ms", "finished_ms", "format", "redis_keys")
        ),
        "names": all(isinstance(getattr(m, f), str) for f in texts),
        "versions": all(v is None or isinstance(v, str) for v in (m.store_revision, m.sealed_by)),
        "tables": _map(m.tables, _int),
        "files": _map(m.files, _file_entry) and all(_inside(name) for name in m.files),
        "groups": _map(m.groups, lambda g: _map(g, lambda t: _map(t, _int))),
        "excluded": _map(m.excluded, lambda v: isinstance(v, str)),
        "topics": isinstance(m.topics, list)
        and all(
            isinstance(t.name, str)
            and _int(t.partitions)
            and _int(t.replication)
            and _map(t.config, lambda v: isinstance(v, str))
            and isinstance(t.parts, list)
            and all(
                isinstance(p.file, str)
                and all(
                    _int(getattr(p, f))
                    for f in ("partition", "records", "first", "last", "start", "end")
                )
                for p in t.parts
            )
            for t in m.topics
        ),
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        return "wrong " + ", ".join(bad)
    named = [p.file for t in m.topics for p in t.parts] + [
        f for f in (m.store_file, m.redis_file) if f
    ]
    unlisted = [f for f in named if f not in m.files]
    return f"{unlisted[0][:60]!r} is not among its files" if unlisted else ""

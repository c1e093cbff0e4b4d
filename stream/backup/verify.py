"""``backup verify``: every file's checksum, then a record-level read of every file.

A backup passes only if its manifest names it, every file it lists is there with the
same SHA-256 and size, no file is there that it does not list, every topic file decodes
to exactly the records (count, first and last offset, rising offsets) the manifest says,
and the store and counter files decompress to their end. Each problem names its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stream.backup import redis_copy
from stream.backup.container import CHUNK, ContainerError, ContainerReader, digest, key_id
from stream.backup.frames import FrameError, decode
from stream.backup.manifest import NAME, Manifest, ManifestError, Part, load
from stream.backup.meter import Meter, silent


@dataclass
class Verdict:
    """What ``verify`` found: the manifest (None if unreadable) and the problems, one a line."""

    directory: Path
    manifest: Manifest | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


def verify(directory: Path, key: bytes | None, *, meter: Meter = silent) -> Verdict:
    """Check the backup in ``directory`` through and through."""
    try:
        manifest = load(directory)
    except ManifestError as exc:
        return Verdict(directory, None, [str(exc)])
    verdict = Verdict(directory, manifest)
    if manifest.sealed_by and key is None:
        verdict.problems.append("the backup is encrypted: set DOJO_BACKUP_KEY to its key")
        return verdict
    if manifest.sealed_by and key is not None and key_id(key) != manifest.sealed_by:
        verdict.problems.append("the backup was sealed with another DOJO_BACKUP_KEY")
        return verdict
    on_disk = {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()} - {NAME}
    for name in sorted(on_disk - set(manifest.files)):
        verdict.problems.append(f"{name}: not listed in the manifest (foreign file)")
    tick = meter("verify", manifest.size, "B")
    parts = {part.file: part for topic in manifest.topics for part in topic.parts}
    for name, entry in sorted(manifest.files.items()):
        path = directory / name
        if not path.is_file():
            verdict.problems.append(f"{name}: missing")
            continue
        found = digest(path)
        tick(found.bytes)
        if found.bytes != entry["bytes"]:
            verdict.problems.append(f"{name}: {found.bytes} bytes, manifest says {entry['bytes']}")
        elif found.sha256 != entry["sha256"]:
            verdict.problems.append(f"{name}: SHA-256 differs from the manifest (altered)")
        problem = _read(path, manifest.id, key, parts.get(name), name == manifest.redis_file)
        if problem:
            verdict.problems.append(f"{name}: {problem}")
    return verdict


def _read(path: Path, backup_id: str, key: bytes | None, part: Part | None, counters: bool) -> str:
    """Read one file to its end; what is wrong with it ("" if nothing)."""
    try:
        with ContainerReader(path, backup_id, key) as source:
            if part is not None:
                return _check_part(source, part)
            if counters:
                redis_copy.entries(source)
                return ""
            while source.read(CHUNK):
                pass
    except ContainerError as exc:
        return str(exc).removeprefix(f"{path.name} ")
    except (FrameError, ValueError) as exc:
        return str(exc)
    return ""


def _check_part(source: ContainerReader, part: Part) -> str:
    count, first, last = 0, -1, -1
    for frame in decode(source):
        if frame.offset <= last:
            return f"offsets out of order at {frame.offset}"
        first = frame.offset if first < 0 else first
        last = frame.offset
        count += 1
    if (count, first, last) != (part.records, part.first, part.last):
        return (
            f"holds {count} records ({first}..{last}), manifest says {part.records} "
            f"({part.first}..{part.last})"
        )
    return ""

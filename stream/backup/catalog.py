"""The backups in a directory: the finished ones (with a manifest), newest last."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from stream.backup import retention
from stream.backup.manifest import NAME, Manifest, ManifestError, load

ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}")
STALE_PARTIAL_S = 24 * 3600  # an unfinished backup this old was left by a crash


@dataclass(frozen=True)
class Entry:
    directory: Path
    manifest: Manifest | None  # None: the directory is not a readable backup
    problem: str = ""


def entries(root: Path) -> list[Entry]:
    """Every backup directory under ``root`` (unfinished ones left out), oldest first."""
    if not root.is_dir():
        return []
    found = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        if directory.name.startswith("."):
            continue
        try:
            found.append(Entry(directory, load(directory)))
        except ManifestError as exc:
            found.append(Entry(directory, None, str(exc)))
    return sorted(found, key=lambda e: (e.manifest.created_ms if e.manifest else 0, e.directory))


def latest(root: Path) -> Entry | None:
    """The newest readable backup, or None."""
    readable = [e for e in entries(root) if e.manifest is not None]
    return readable[-1] if readable else None


def find(root: Path, backup_id: str) -> Path:
    """The directory of backup ``backup_id`` ("latest": the newest); FileNotFoundError."""
    if backup_id == "latest":
        entry = latest(root)
        if entry is None:
            raise FileNotFoundError(f"no backups in {root}")
        return entry.directory
    shown = backup_id[:80].encode("unicode_escape").decode("ascii")
    if "/" in backup_id:  # a path: a backup copied elsewhere (verify it before restoring it)
        path = Path(backup_id)
    elif ID.fullmatch(backup_id):
        path = root / backup_id
    else:
        raise FileNotFoundError(f"no backup {shown!r}: ids look like 20261203T020101Z-1a2b3c")
    try:
        if path.is_dir() and (path / NAME).is_file():
            return path
    except OSError:
        pass  # a name too long or unreadable: not a backup either
    raise FileNotFoundError(f"no backup {shown!r} in {root}")


def prune(root: Path, daily: int, weekly: int, monthly: int, *, dry_run: bool = False) -> list[str]:
    """Delete the backups retention does not keep, and crashed partial ones; their names."""
    readable = [e for e in entries(root) if e.manifest is not None]
    by_id = {e.manifest.id: e.directory for e in readable if e.manifest is not None}
    pairs = [(e.manifest.id, e.manifest.created_ms) for e in readable if e.manifest is not None]
    gone = retention.doomed(pairs, daily, weekly, monthly)
    stale = [
        p for p in (root.glob(".*.partial") if root.is_dir() else [])
        if time.time() - p.stat().st_mtime > STALE_PARTIAL_S
    ]  # fmt: skip
    if not dry_run:
        for backup_id in gone:
            shutil.rmtree(by_id[backup_id])
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
    return gone + [p.name for p in stale]

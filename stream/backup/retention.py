"""Which backups to keep: the newest of each of the last N days, weeks and months.

Grandfather-father-son, as ``DOJO_BACKUP_KEEP=7,4,6`` says: for each of the newest 7 UTC
days that have a backup, its newest backup; likewise for 4 ISO weeks and 6 months. The
newest backup is always kept, whatever the counts. Pure: the list and counts go in, the
ids to delete come out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime


def _newest_per(
    backups: Sequence[tuple[str, int]], period: Callable[[datetime], object], count: int
) -> set[str]:
    kept: dict[object, str] = {}
    for backup_id, created_ms in sorted(backups, key=lambda b: b[1], reverse=True):
        bucket = period(datetime.fromtimestamp(created_ms / 1000, UTC))
        if bucket not in kept and len(kept) < count:
            kept[bucket] = backup_id
    return set(kept.values())


def keep(backups: Sequence[tuple[str, int]], daily: int, weekly: int, monthly: int) -> set[str]:
    """The ids to keep of ``backups`` (id, created ms)."""
    if not backups:
        return set()
    newest = max(backups, key=lambda b: b[1])[0]
    return (
        {newest}
        | _newest_per(backups, lambda t: t.date(), daily)
        | _newest_per(backups, lambda t: t.isocalendar()[:2], weekly)
        | _newest_per(backups, lambda t: (t.year, t.month), monthly)
    )


def doomed(backups: Sequence[tuple[str, int]], daily: int, weekly: int, monthly: int) -> list[str]:
    """The ids to delete, oldest first."""
    kept = keep(backups, daily, weekly, monthly)
    return [b for b, _ms in sorted(backups, key=lambda b: b[1]) if b not in kept]

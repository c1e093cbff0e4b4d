"""What the backup scheduler remembers and decides: when to act, its status, its alert.

Pure functions of a ``Clockwork`` and a time passed in (seconds since the epoch). The
status is the ``backups`` live channel the panel's card shows; the alert is the scheduler's
part of the ``alerts`` channel and its record on the alerts topic. Both change only when
the scheduler's state does, so publishing them again changes nothing on the panel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

FIRST_AFTER_S = 60.0  # the first backup of a fresh stack waits for its first events
RETRY_AFTER_S = 600.0  # a failed backup is tried again this much later, not at once
OVERDUE_FACTOR = 1.5


@dataclass
class Clockwork:
    """What the scheduler remembers between ticks (seconds since the epoch)."""

    started: float
    last_success: float = 0.0
    last_attempt: float = 0.0
    last_drill: float = 0.0
    failure: str = ""  # why the last attempt failed ("" when it did not)
    last_id: str = ""  # the newest good backup, its bytes and records
    last_size: int = 0
    last_records: int = 0
    verified: bool | None = None  # None: made before this scheduler started, not checked by it
    drill_passed: bool | None = None  # None: no drill since the scheduler started
    drill_detail: str = ""  # the first mismatch or error of a failed drill
    drill_id: str = ""
    told: str = ""  # the alert reason last sent to the alerts topic ("" none)


def backup_due(c: Clockwork, now: float, every_h: float) -> bool:
    """Whether to make a backup now."""
    due = next_due(c, every_h)
    return due is not None and now >= due


def next_due(c: Clockwork, every_h: float) -> float | None:
    """When the next backup is due (None: scheduled backups are off)."""
    if every_h <= 0:
        return None
    due = max(c.started + FIRST_AFTER_S, c.last_success + every_h * 3600)
    return max(due, c.last_attempt + RETRY_AFTER_S) if c.failure else due


def drill_due(c: Clockwork, now: float, every_h: float) -> bool:
    """Whether to drill now: a backup exists and the last drill is one interval old."""
    return every_h > 0 and c.last_success > 0 and now - c.last_drill >= every_h * 3600


def overdue_since(c: Clockwork, every_h: float) -> float | None:
    """When the scheduler is overdue from: 1.5 intervals without a good backup."""
    since = c.last_success or c.started + FIRST_AFTER_S
    return since + every_h * 3600 * OVERDUE_FACTOR if every_h > 0 else None


def overdue(c: Clockwork, now: float, every_h: float) -> bool:
    """No good backup for 1.5 intervals (counted from the start when there was none)."""
    since = overdue_since(c, every_h)
    return since is not None and now > since


def alert(c: Clockwork, now: float, every_h: float) -> dict[str, Any] | None:
    """The live alert for the scheduler's state, or None when all is well.

    Its reason and minute are fixed while the state lasts, so the alert is news once."""
    if c.failure:
        reason, at = f"backup failed: {c.failure}", c.last_attempt
    elif overdue(c, now, every_h):
        last = _utc(c.last_success) if c.last_success else "the scheduler started"
        reason, at = f"backup overdue: none verified since {last}", overdue_since(c, every_h) or now
    elif c.drill_passed is False:  # the backups exist but one did not restore: as urgent
        detail = f": {c.drill_detail}" if c.drill_detail else ""
        reason, at = f"restore drill failed for {c.drill_id}{detail}", c.last_drill
    else:
        return None
    return {"kind": "drop", "metric": "backup", "reason": reason, "minute": int(at * 1000),
            "value": None, "expected": None, "ratio": None}  # fmt: skip


def status(c: Clockwork, now: float, every_h: float) -> dict[str, Any]:
    """The ``backups`` channel: the newest good backup, what is due, the last drill."""
    due = next_due(c, every_h)
    return {
        "last_id": c.last_id,
        "last_success_ms": int(c.last_success * 1000),
        "size_bytes": c.last_size,
        "records": c.last_records,
        "verified": c.verified,
        "next_due_ms": None if due is None else int(due * 1000),
        "failure": c.failure,
        "overdue": overdue(c, now, every_h),
        "drill": {
            "backup_id": c.drill_id,
            "at_ms": int(c.last_drill * 1000),
            "passed": c.drill_passed,
            "detail": c.drill_detail,
        },
    }


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))

"""A moment given on the command line: an ISO date or UTC datetime, or an age back from now.

Used by ``simulate --start`` (where a backfill starts) and ``dlq --since``.

>>> parse_moment("2026-11-01", now_ms=0)
1793491200000
>>> parse_moment("36h", now_ms=200_000_000)
70400000
>>> parse_moment("90m", now_ms=6_000_000)
600000
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import click

_AGE = re.compile(r"([0-9]{1,4})([dhm])")  # ASCII digits: \d also takes other scripts' digits
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000}


def parse_moment(text: str, now_ms: int | None = None) -> int:
    """Epoch ms of ``text``; a clear ``click.BadParameter`` for anything else."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    age = _AGE.fullmatch(text.strip())
    if age:
        return now - int(age.group(1)) * _UNIT_MS[age.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text[:40]!r} is neither an ISO date/datetime nor an age such as 7d, 36h or 90m"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # dates and naive times are UTC, like every stored time
    return int(when.timestamp() * 1000)

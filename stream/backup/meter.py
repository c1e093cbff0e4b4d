"""How the backup steps report progress: the command line hands in bars, tests nothing."""

from __future__ import annotations

from collections.abc import Callable

Tick = Callable[[int], None]
# Starts one measured step (label, total or None, unit); the returned tick adds done units.
Meter = Callable[[str, int | None, str], Tick]


def silent(_label: str, _total: int | None, _unit: str) -> Tick:
    """The meter of callers that show nothing (the scheduler, tests)."""
    return lambda _n: None

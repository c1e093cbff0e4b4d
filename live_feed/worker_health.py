"""Is the stream worker running and keeping up? Judged from its check-ins and Kafka lag.

The live feed is healthy on its own; the worker is reported beside it, because a load
balancer must keep sending admins to a feed that can tell them the worker is down.

- ``not running``: no agent checked in for ``ALIVE_S`` (they do about once a second).
- ``stale``: some agents checked in but others stopped, or there is lag and an agent has
  not folded anything for ``STALE_S``.
- ``ok``: otherwise (a busy worker with lag that it is folding is keeping up).

``behind_s`` is how long the worker has not kept up: the age of the oldest last fold,
counted only while there is lag (0 with no lag, None while the lag cannot be read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from live_feed.metrics import GroupTopic
from stream.runtime.progress import AgentTimes

OK, STALE, NOT_RUNNING = "ok", "stale", "not running"
ALIVE_S = 10.0
STALE_S = 60.0
FORGET_S = 3600.0  # an agent silent this long is no longer expected (DOJO_AGENTS changed)


@dataclass(frozen=True)
class WorkerHealth:
    """The worker as the live feed sees it."""

    state: str
    lag: int | None  # messages not committed yet, all groups; None: Kafka unreadable
    behind_s: float | None
    last_seen_s: float | None  # age of the newest check-in; None: never seen
    silent: tuple[str, ...] = ()  # agents that stopped checking in while others did not

    @property
    def running(self) -> bool:
        return self.state != NOT_RUNNING

    def asdict(self) -> dict[str, Any]:
        """The JSON form served on ``/healthz`` (and read by the panel's banner)."""
        return {
            "state": self.state,
            "lag": self.lag,
            "behind_s": _rounded(self.behind_s),
            "last_seen_s": _rounded(self.last_seen_s),
            "silent": list(self.silent),
        }


def judge(times: AgentTimes, lags: Mapping[GroupTopic, int] | None, now: float) -> WorkerHealth:
    """The worker's health at ``now`` (epoch seconds) from its agents' times and the lag."""
    lag = None if lags is None else sum(lags.values())
    known = {a: at for a, at in times.seen_at.items() if now - at <= FORGET_S}
    if not times.seen_at:
        return WorkerHealth(NOT_RUNNING, lag, _behind(lag, []), None)
    last_seen = max(0.0, now - max(times.seen_at.values()))
    folds = [times.folded_at.get(agent, at) for agent, at in known.items()]
    behind = _behind(lag, [max(0.0, now - at) for at in folds])
    silent = tuple(sorted(agent for agent, at in known.items() if now - at > ALIVE_S))
    if len(silent) == len(known):
        return WorkerHealth(NOT_RUNNING, lag, behind, last_seen)
    if silent or (behind or 0.0) > STALE_S:
        return WorkerHealth(STALE, lag, behind, last_seen, silent)
    return WorkerHealth(OK, lag, None if behind is None else 0.0, last_seen)


def _behind(lag: int | None, idle: list[float]) -> float | None:
    if lag is None:
        return None
    return max(idle, default=0.0) if lag > 0 else 0.0


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)

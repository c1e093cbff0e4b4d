"""Per-session facts a partition keeps while a session is live (30 minutes after its last batch).

A session's batches always land on the same partition, so these facts are complete there.
Bounce rule: a visit bounces while it has exactly one ``page_view`` and no event other than
``page_view``, ``page_leave``, ``web_vital`` or ``scroll`` (``PASSIVE``).
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stream.sketches.uniques import fingerprint
from stream.sketches.windows import MINUTE_MS

SESSION_TIMEOUT_MS = 30 * MINUTE_MS
PASSIVE = frozenset({"page_view", "page_leave", "web_vital", "scroll"})


def site_host(value: str) -> str:
    """The lower-case host of an origin or url (``https://a.example:8000`` -> ``a.example``)."""
    if "://" in value:
        return (urlsplit(value).hostname or "").lower()
    return value.lower()


def referrer_host(referrer: str, site_hosts: frozenset[str]) -> str:
    """The host of an external ``referrer``; "" for our own site or a non-url."""
    host = site_host(referrer) if "://" in referrer else ""
    return "" if host in site_hosts else host


@dataclass(slots=True)
class Visit:
    """What traffic needs to remember about one live session."""

    session_id: str
    visitor: str
    day: int  # UTC day the session was first seen: its device, entry and bounce count there
    last_seen: int  # server time of its latest batch
    views: int = 0
    interacted: bool = False
    entered: bool = False  # its first page view (entry page and referrer) is counted
    minute: int = -1  # minute window of its first event (-1: late, or restored from v1)
    bounce: bool = False  # whether the day's bounce count currently includes this visit
    hv: int = field(init=False, default=0)
    hs: int = field(init=False, default=0)
    # Day and minute whose uniques already hold this visit: skips re-adding on every
    # batch. A cache only: never serialised, reset whenever days or minutes are dropped.
    day_seen: int = field(init=False, default=-1)
    minute_seen: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        self.hv = fingerprint(self.visitor)
        self.hs = fingerprint(self.session_id)
        self.bounce = self.is_bounce

    @property
    def is_bounce(self) -> bool:
        """True while the bounce rule holds."""
        return self.views == 1 and not self.interacted

    def forget_cache(self) -> None:
        """Drop the uniques cache (after the windows it points at may have gone)."""
        self.day_seen = self.minute_seen = -1

    def copy(self) -> Visit:
        """An independent copy without the cache."""
        out = copy(self)
        out.forget_cache()
        return out

    def encode(self) -> list[Any]:
        """Plain values for a checkpoint."""
        flags = [self.views, self.interacted, self.entered, self.minute]
        return [self.day, self.last_seen, self.visitor, *flags]

    @classmethod
    def decode(cls, session_id: str, row: list[Any]) -> Visit:
        """Rebuild a visit written by ``encode`` (v1 rows have no minute)."""
        day, last_seen, visitor, *flags = row
        return cls(session_id, visitor, day, last_seen, *flags)


def merge_visits(a: Visit, b: Visit) -> Visit:
    """One visit from two records of the same session (a session split across partitions)."""
    newer = b if b.last_seen >= a.last_seen else a
    first = a if a.day <= b.day else b
    flags = [a.views + b.views, a.interacted or b.interacted, a.entered or b.entered]
    flags.append(first.minute)
    row = [min(a.day, b.day), newer.last_seen, newer.visitor, *flags]
    return Visit.decode(a.session_id, row)

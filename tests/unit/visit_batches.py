"""Builders of ``dojo.events`` batches for the learner tests."""

from __future__ import annotations

from typing import Any

T0 = 1_764_111_600_000  # a Wednesday, 23:00 UTC
MINUTE = 60_000
_ids = iter(range(10**9))


def event(kind: str, ts: int, url: str = "/", **props: Any) -> dict[str, Any]:
    """One validated event as it travels inside a batch."""
    return {"event_id": f"ev{next(_ids):08d}", "type": kind, "ts": ts, "session_id": "",
            "url": url, "props": props, "referrer": ""}  # fmt: skip


def batch(session: str, visitor: str, events: list[dict[str, Any]], device: str = "desktop"):  # type: ignore[no-untyped-def]
    """A batch of ``events`` for ``session`` of ``visitor``, received at the last event's ts."""
    for e in events:
        e["session_id"] = session
    return {"session_id": session, "visitor_id": visitor, "device": device,
            "received_at": max(e["ts"] for e in events), "events": events}  # fmt: skip


def page(ts: int, url: str, dwell_ms: int = 30_000, depth: float = 0.5) -> list[dict[str, Any]]:
    """A page view and its leave."""
    return [event("page_view", ts, url), event("page_leave", ts + dwell_ms, url,
                                               dwell_ms=dwell_ms, scroll_depth=depth)]  # fmt: skip

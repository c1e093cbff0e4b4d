"""Valid content of each type, for the content tests to start from and spoil."""

from __future__ import annotations

from typing import Any


def event(slug: str = "scratch-2026-12-05", **changes: Any) -> dict[str, Any]:
    """A valid dojo event, with ``changes``."""
    return {
        "slug": slug,
        "title": "Scratch Saturday",
        "starts_at": "2026-12-05T10:00:00+00:00",
        "ends_at": "2026-12-05T12:00:00+00:00",
        "timezone": "Europe/London",
        "venue": "DD Library, Room 2",
        "capacity": 30,
        "age_min": 7,
        "age_max": 12,
        "tags": ["scratch", "beginners"],
        "status": "scheduled",
        "registration_opens": "2026-11-20T09:00:00+00:00",
        "registration_closes": "2026-12-04T18:00:00+00:00",
    } | changes


def resource(slug: str = "scratch-starter-cards", **changes: Any) -> dict[str, Any]:
    """A valid resource, with ``changes``."""
    return {
        "slug": slug,
        "title": "Scratch Starter Cards",
        "kind": "worksheet",
        "url": "https://dd-coder-dojo.example/files/scratch-cards.pdf",
        "tags": ["scratch"],
        "age_min": 7,
        "age_max": 11,
    } | changes


def page(path: str = "/about", **changes: Any) -> dict[str, Any]:
    """A valid page, with ``changes``."""
    return {
        "path": path,
        "title": "About the dojo",
        "body": "<p>We meet every Saturday.</p>\n<p>Bring a laptop if you have one.</p>",
    } | changes


VALID = {"event": event(), "resource": resource(), "page": page()}


class Clock:
    """A content service's clock, in epoch ms, that the test moves."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

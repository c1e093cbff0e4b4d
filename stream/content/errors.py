"""What content writes refuse, as data the callers turn into answers (422, 412, 404)."""

from __future__ import annotations


class ContentError(ValueError):
    """A content request that cannot be served as asked."""


class Invalid(ContentError):
    """Fields that do not validate: ``errors`` maps each bad field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class Stale(ContentError):
    """A write that edits a revision older than the item's ``current`` one."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the item is at revision {current}: reload and edit that")
        self.current = current


class NotFound(ContentError):
    """No such item, or no such revision of it."""

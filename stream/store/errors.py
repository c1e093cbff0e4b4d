"""What the store says when it cannot serve: one line an operator can act on."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The store cannot be opened or used (bad URL, server down, unknown engine)."""


class StoreVersionError(StoreError):
    """The store was migrated by a newer release than this one."""

"""Heatmap tabs: what the heatmaps state remembers of one live session.

Its latest click's viewport class, its current page view and how deep it scrolled, the
clicks that may still turn into a rage burst, and the clicks not yet settled as dead or
answered (``stream.metrics.heatmaps`` states the rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Tab:
    """What one live session needs for heatmaps."""

    last_seen: int
    viewport: str = ""  # class of its latest click
    url: str | None = None  # page of its current view
    view: list[Any] | None = None  # [day, key, level reached] of the current view
    click_url: str = ""
    recent: list[list[float]] = field(default_factory=list)  # [ts, x, y] within the window
    burst: list[float] | None = None  # [last ts, first x, first y] of the current burst
    pending: list[list[Any]] = field(default_factory=list)  # [ts, day, key, cell]

    def encode(self) -> list[Any]:
        """Plain values for a checkpoint (``Tab(*row)`` reads them back)."""
        return [
            self.last_seen, self.viewport, self.url, self.view, self.click_url,
            self.recent, self.burst, self.pending,
        ]  # fmt: skip

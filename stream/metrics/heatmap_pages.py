"""Heatmap pages: one page's counts, and the pages of each day held under a cap.

Distinct pages are capped per day (``MAX_PAGES``) by activity, not by arrival: when a new
page arrives at the cap, the held page with the fewest views and clicks (the longest held
among equals) is evicted and its counts move to ``overflow``. Junk urls seen once therefore
cannot crowd out a page that keeps being viewed; its counts from before it was admitted, or
while it was out, stay in ``overflow``, so totals remain exact.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

GRID = 20
THRESHOLDS = (0.25, 0.5, 0.75, 1.0)
MAX_PAGES = 1000
TOP_SPOTS = 20
OTHER = "(other)"


def grid_cell(x: float, y: float) -> int:
    """The grid cell of a click at normalised ``(x, y)``."""
    # Comparisons instead of min/max: this runs once per click on the hot path.
    col = int(x * GRID)
    row = int(y * GRID)
    col = 0 if col < 0 else GRID - 1 if col >= GRID else col
    row = 0 if row < 0 else GRID - 1 if row >= GRID else row
    return row * GRID + col


@dataclass(slots=True)
class Page:
    """One page's counts for one day and viewport class."""

    clicks: int = 0
    views: int = 0
    grid: list[int] = field(default_factory=lambda: [0] * (GRID * GRID))
    reach: list[int] = field(default_factory=lambda: [0] * len(THRESHOLDS))
    rage: dict[int, int] = field(default_factory=dict)  # cell -> bursts
    dead: dict[int, int] = field(default_factory=dict)  # cell -> dead clicks

    @property
    def weight(self) -> int:
        """What decides which pages stay under the cap: views and clicks."""
        # Clicks count too: a session's first view takes the device's class, its clicks the
        # viewport's, so a busy page can hold clicks under a key that has few views.
        return self.views + self.clicks

    def update(self, other: Page) -> None:
        self.clicks += other.clicks
        self.views += other.views
        self.grid = [a + b for a, b in zip(self.grid, other.grid, strict=True)]
        self.reach = [a + b for a, b in zip(self.reach, other.reach, strict=True)]
        for mine, theirs in ((self.rage, other.rage), (self.dead, other.dead)):
            for c, n in theirs.items():
                mine[c] = mine.get(c, 0) + n

    def encode(self) -> list[Any]:
        rage, dead = list(self.rage.items()), list(self.dead.items())
        return [self.clicks, self.views, self.grid, self.reach, rage, dead]

    @classmethod
    def decode(cls, row: list[Any]) -> Page:
        clicks, views, grid, reach, rage, dead = row
        return cls(clicks, views, grid, reach, dict(map(tuple, rage)), dict(map(tuple, dead)))

    def report(self, url: str, viewport: str, with_grid: bool) -> dict[str, Any]:
        def spots(cells: dict[int, int]) -> list[dict[str, Any]]:
            best = sorted(cells.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SPOTS]
            return [
                {"x": (c % GRID + 0.5) / GRID, "y": (c // GRID + 0.5) / GRID, "count": n}
                for c, n in best
            ]

        views = self.views
        return {
            "url": url,
            "viewport": viewport,
            "clicks": self.clicks,
            "views": views,
            "grid": [self.grid[r * GRID : (r + 1) * GRID] for r in range(GRID)]
            if with_grid
            else None,
            "scroll_reach": {
                str(round(t * 100)): (n / views if views else 0.0)
                for t, n in zip(THRESHOLDS, self.reach, strict=True)
            },
            "rage_clicks": sum(self.rage.values()),
            "dead_clicks": sum(self.dead.values()),
            "rage": spots(self.rage),
            "dead": spots(self.dead),
        }


class DayPages:
    """The pages of each UTC day: at most ``max_pages`` a day, and the overflow."""

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self.days: dict[int, dict[str, Page]] = {}
        # Per day, a lazy min-heap of [weight when pushed, admission number, key] with one
        # entry per held page: weights only grow, so a stale entry is fixed when it surfaces.
        # Derived from ``days``; rebuilt when needed, never checkpointed.
        self._heaps: dict[int, list[tuple[int, int, str]]] = {}
        self._admitted = 0

    def page(self, day: int, key: str) -> Page:
        """The page of ``key`` on ``day``, admitted (and another evicted) if new."""
        pages = self.days.get(day)
        if pages is None:
            pages = self.days[day] = {}
        page = pages.get(key)
        if page is None:
            if key != OTHER and len(pages) - (OTHER in pages) >= self.max_pages:
                self._evict(day, pages)
            page = pages[key] = Page()
            heap = self._heaps.get(day)
            if heap is not None and key != OTHER:
                self._admitted += 1
                heapq.heappush(heap, (0, self._admitted, key))
        return page

    def _evict(self, day: int, pages: dict[str, Page]) -> None:
        heap = self._heaps.get(day)
        if heap is None:
            heap = self._heaps[day] = []
            for key, page in pages.items():  # admission order: the oldest first among equals
                if key != OTHER:
                    self._admitted += 1
                    heap.append((page.weight, self._admitted, key))
            heapq.heapify(heap)
        while True:
            weight, admitted, key = heap[0]
            page = pages[key]
            if page.weight == weight:
                break
            heapq.heapreplace(heap, (page.weight, admitted, key))
        heapq.heappop(heap)
        del pages[key]
        self.page(day, OTHER).update(page)

    def held(self, day: int, key: str) -> Page | None:
        """The page holding ``key``'s counts: its own, or the overflow once it was evicted."""
        pages = self.days.get(day)
        if pages is None:
            return None
        return pages.get(key) or pages.get(OTHER)

    def forget(self, day: int) -> None:
        """Drop a day's pages."""
        del self.days[day]
        self._heaps.pop(day, None)

    def trim(self) -> None:
        """Move the lightest pages beyond the cap to the overflow, every day (after a merge)."""
        for pages in self.days.values():
            self._trim(pages)

    def _trim(self, pages: dict[str, Page]) -> None:
        """Move the lightest pages beyond the cap to the overflow (after a merge)."""
        ranked = sorted((k for k in pages if k != OTHER), key=lambda k: (-pages[k].weight, k))
        if len(ranked) <= self.max_pages:
            return
        other = pages.setdefault(OTHER, Page())
        for key in ranked[self.max_pages :]:
            other.update(pages.pop(key))

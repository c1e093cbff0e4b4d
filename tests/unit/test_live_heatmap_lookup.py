"""Finding one page's heatmap in a ``heatmaps`` snapshot, whatever shape the snapshot has."""

from __future__ import annotations

from typing import Any

import pytest

from live_feed.insights import find_heatmap

PAGES = {"pages": [
    {"url": "/events", "viewport": "mobile", "clicks": 3},
    "not a page",
    {"url": "/events", "viewport": "desktop", "clicks": 5},
]}  # fmt: skip


def test_finds_the_page_at_its_viewport() -> None:
    assert find_heatmap(PAGES, "/events", "desktop") == PAGES["pages"][2]
    assert find_heatmap(PAGES, "/events", "mobile") == PAGES["pages"][0]


@pytest.mark.parametrize(
    ("snapshot", "url", "viewport"),
    [(PAGES, "/events", "tablet"), (PAGES, "/Events", "mobile"), (None, "/events", "mobile"),
     ({"pages": None}, "/events", "mobile"), ([1, 2], "/events", "mobile")],
)  # fmt: skip
def test_none_when_nothing_matches(snapshot: Any, url: str, viewport: str) -> None:
    assert find_heatmap(snapshot, url, viewport) is None

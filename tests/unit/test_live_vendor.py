"""The vendored uPlot files exist and match the version pinned in package.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

LIVE_FEED = Path(__file__).resolve().parents[2] / "live_feed"
VENDOR = LIVE_FEED / "static" / "vendor"


def test_vendored_uplot_matches_the_pinned_version() -> None:
    pinned = json.loads((LIVE_FEED / "package.json").read_text())["dependencies"]["uplot"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    banner = (VENDOR / "uPlot.iife.min.js").read_text(encoding="utf-8")[:200]
    found = re.search(r"uPlot \(v(\d+\.\d+\.\d+)\)", banner)
    assert found is not None, "no version banner in uPlot.iife.min.js"
    assert found.group(1) == pinned


def test_vendored_uplot_css_is_present() -> None:
    css = (VENDOR / "uPlot.min.css").read_text(encoding="utf-8")
    assert ".uplot" in css

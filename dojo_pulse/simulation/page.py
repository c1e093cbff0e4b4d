"""Events of one page view: the view, web vitals, clicks, scrolls and the leave."""

from __future__ import annotations

import math
import random

from dojo_pulse.simulation.beacon import Beacon
from dojo_pulse.simulation.site import ALL_PAGES, Page
from dojo_pulse.simulation.visitors import Visitor

# Medians (ms) and log-normal sigmas of web vitals per device: phones on mobile networks
# are slower on every paint metric and on interaction latency.
_TTFB = {"desktop": 180.0, "tablet": 300.0, "mobile": 450.0, "bot": 120.0}
_FCP_EXTRA = {"desktop": 650.0, "tablet": 950.0, "mobile": 1250.0, "bot": 400.0}
_LCP_EXTRA = {"desktop": 450.0, "tablet": 800.0, "mobile": 1100.0, "bot": 300.0}
_INP = {"desktop": 90.0, "tablet": 160.0, "mobile": 220.0, "bot": 50.0}

# Median dwell (ms) by page kind; reading a blog post takes longer than glancing at home.
_DWELL = {
    "home": 14_000.0, "events": 20_000.0, "event": 35_000.0, "register": 20_000.0,
    "checkin": 8_000.0, "resources": 18_000.0, "resource": 55_000.0, "blog": 15_000.0,
    "post": 80_000.0, "info": 30_000.0,
}  # fmt: skip

_NAV = ("/", "/events", "/resources", "/blog", "/about", "/contact")
_LINKS = tuple(p.url for p in ALL_PAGES)
_THRESHOLDS = (0.25, 0.5, 0.75, 1.0)
_CLICK_COUNTS = (0, 1, 2, 3, 4)
_CLICK_CUM = (0.3, 0.6, 0.8, 0.92, 1.0)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def open_page(
    rng: random.Random, beacon: Beacon, visitor: Visitor, page: Page, referrer: str | None
) -> float:
    """Emit the page view and load-time vitals; return the time the page was shown."""
    shown = beacon.t
    beacon.emit("page_view", page.url, {"title": page.title}, referrer)
    device = visitor.device
    ttfb = _lognormal(rng, _TTFB[device], 0.5)
    fcp = ttfb + _lognormal(rng, _FCP_EXTRA[device], 0.4)
    lcp = fcp + _lognormal(rng, _LCP_EXTRA[device], 0.6)
    beacon.wait(fcp)
    beacon.emit("web_vital", page.url, {"name": "TTFB", "value": round(ttfb, 1)})
    beacon.emit("web_vital", page.url, {"name": "FCP", "value": round(fcp, 1)})
    beacon.wait(lcp - fcp)
    beacon.emit("web_vital", page.url, {"name": "LCP", "value": round(lcp, 1)})
    beacon.flush()
    return shown


def dwell_ms(rng: random.Random, page: Page, engaged: float) -> float:
    """How long a visitor stays on ``page``; ``engaged`` scales it (0.3 skim .. 2 read)."""
    return min(_lognormal(rng, _DWELL[page.kind] * engaged, 0.8), 600_000.0)


def click(
    rng: random.Random, beacon: Beacon, visitor: Visitor, url: str, selector: str, y_band: str
) -> None:
    """One click; ``y_band`` is where on the page: nav, hero, content or footer."""
    if y_band == "nav":
        x, y = 0.25 + 0.6 * rng.random(), 0.005 + 0.035 * rng.random()
    elif y_band == "hero":
        x, y = min(max(rng.gauss(0.5, 0.08), 0.05), 0.95), 0.18 + 0.14 * rng.random()
    elif y_band == "footer":
        x, y = 0.2 + 0.6 * rng.random(), 0.93 + 0.06 * rng.random()
    else:
        x, y = 0.08 + 0.84 * rng.random(), 0.3 + 0.6 * rng.random()
    w, h = visitor.viewport
    props = {"x": round(x, 4), "y": round(y, 4), "selector": selector, "viewport_w": w,
             "viewport_h": h}  # fmt: skip
    beacon.emit("click", url, props)


def browse(
    rng: random.Random, beacon: Beacon, visitor: Visitor, page: Page, dwell: float, passive: bool
) -> float:
    """Scroll (and click unless ``passive``) for ``dwell`` ms; return the deepest scroll (0..1)."""
    # Longer stays scroll further; a quarter of visitors never scroll at all.
    depth = 0.0 if rng.random() < 0.25 else min(1.0, 0.2 + rng.random() * dwell / 30_000)
    depth = round(depth, 3)
    steps = [t for t in _THRESHOLDS if t <= depth]
    clicks = 0 if passive else rng.choices(_CLICK_COUNTS, cum_weights=_CLICK_CUM)[0]
    actions = len(steps) + clicks
    gap = dwell / (actions + 1)
    for threshold in steps:
        beacon.wait(gap * (0.5 + rng.random()))
        beacon.emit("scroll", page.url, {"depth": threshold})
    for _ in range(clicks):
        beacon.wait(gap * (0.5 + rng.random()))
        roll = rng.random()
        if roll < 0.3:
            target = rng.choice(_NAV)
            click(rng, beacon, visitor, page.url, f"nav a[href='{target}']", "nav")
        elif roll < 0.45:
            click(rng, beacon, visitor, page.url, "a.cta", "hero")
        else:
            target = rng.choice(_LINKS)
            click(rng, beacon, visitor, page.url, f"main a[href='{target}']", "content")
    return depth


def close_page(
    rng: random.Random, beacon: Beacon, visitor: Visitor, page: Page, shown: float, depth: float
) -> None:
    """Emit the vitals measured at page hide and the page leave with its dwell."""
    url = page.url
    roll = rng.random()
    if roll < 0.7:  # most pages barely shift; a few jump when late images load
        cls = rng.expovariate(50.0)
    elif roll < 0.95:
        cls = 0.05 + 0.1 * rng.random()
    else:
        cls = 0.15 + rng.expovariate(4.0)
    beacon.emit("web_vital", url, {"name": "CLS", "value": round(min(cls, 5.0), 4)})
    if rng.random() < 0.6:  # INP exists only when the visitor interacted
        inp = min(_lognormal(rng, _INP[visitor.device], 0.6), 10_000.0)
        beacon.emit("web_vital", url, {"name": "INP", "value": round(inp, 1)})
    beacon.wait(50 + 200 * rng.random())
    dwell = int(beacon.t - shown)
    beacon.emit("page_leave", url, {"dwell_ms": dwell, "scroll_depth": depth})
    beacon.flush()

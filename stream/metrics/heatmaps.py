"""Click heatmaps of one partition: click density, scroll reach, rage clicks and dead clicks.

Definitions (per UTC day of the event's ``ts``, per page url and viewport class):

- *viewport class* of a click: ``viewport_w`` < 768 is ``mobile``, < 1200 ``tablet``, else
  ``desktop``. A page view takes the class of its session's latest click so far, or else
  the batch's device class (``unknown`` counts as ``desktop``).
- *grid*: ``GRID`` x ``GRID`` cells over the page's normalised coordinates; a click at
  ``(x, y)`` lands in row ``floor(y * GRID)``, column ``floor(x * GRID)`` (1.0 in the last).
- *scroll reach*: the share of page views whose deepest scroll reached 25/50/75/100 %.
  The depth of a view is the largest ``scroll.depth`` or ``page_leave.scroll_depth`` of its
  session at the same url before the session's next page view.
- *rage click*: a burst of ``RAGE_CLICKS`` or more clicks of one session on one page. A
  click starts a burst when at least ``RAGE_CLICKS - 1`` earlier clicks on that page lie
  within ``RAGE_WINDOW_MS`` before it and within ``RAGE_RADIUS`` of it (euclidean, in
  normalised coordinates); the burst counts once, at the cell of the earliest of those
  clicks. A later click within the window of the burst's latest click and the radius of its
  first click extends the burst without counting again.
- *dead click*: a click that no *response* follows within ``DEAD_AFTER_MS`` (event time) in
  the same session. Responses are what a working click causes: ``page_view``, ``scroll``,
  any ``form_*`` event, and the outcome events ``resource_download``, ``registration``,
  ``attendance`` and ``conversion`` (the site sends these right after the click that
  caused them). A click is settled by the first later event more than ``DEAD_AFTER_MS``
  after it, or as dead when its session has been idle for 30 minutes (``expire``).

The pages of a day are capped by activity (``heatmap_pages``). Per minute, for history, the
state counts clicks, scrolls and rage bursts (``heatmap_minutes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from stream.metrics.heatmap_minutes import HeatMinutes
from stream.metrics.heatmap_pages import MAX_PAGES, OTHER, THRESHOLDS, DayPages, Page, grid_cell
from stream.metrics.heatmap_tabs import Tab
from stream.metrics.minutes import Marks
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec
from stream.sketches.tally import Tally
from stream.sketches.windows import DAY_MS, DEFAULT_LATENESS_MS, MINUTE_MS, EventClock, day_start

RAGE_CLICKS = 3
RAGE_WINDOW_MS = 1000
RAGE_RADIUS = 0.05
DEAD_AFTER_MS = 1000
TOP_PAGES = 50
TOP_GRIDS = 10
MAX_PENDING = 50  # unsettled clicks kept per session; older ones are settled as dead
RESPONSES = frozenset(
    {
        "page_view", "scroll", "form_start", "form_field", "form_submit", "form_abandon",
        "resource_download", "registration", "attendance", "conversion",
    }
)  # fmt: skip
_R2 = RAGE_RADIUS * RAGE_RADIUS
SEP = "\t"  # joins viewport class and url in keys: normalised urls never hold a tab
_DEVICE_VIEWPORT = {"mobile": "mobile", "tablet": "tablet"}


def viewport_class(width: float) -> str:
    """``mobile`` below 768 px, ``tablet`` below 1200 px, else ``desktop``."""
    return "mobile" if width < 768 else "tablet" if width < 1200 else "desktop"


def _level(depth: float) -> int:
    return sum(1 for t in THRESHOLDS if depth >= t)


class HeatmapsState:
    """Mergeable, serialisable click heatmaps of one partition."""

    def __init__(self, max_pages: int = MAX_PAGES, lateness_ms: int = DEFAULT_LATENESS_MS) -> None:
        self.pages = DayPages(max_pages)
        self.tabs: dict[str, Tab] = {}
        self.per_minute = HeatMinutes(EventClock(MINUTE_MS, lateness_ms))

    @property
    def max_pages(self) -> int:
        """Distinct pages held a day before the least active goes to the overflow."""
        return self.pages.max_pages

    @property
    def days(self) -> dict[int, dict[str, Page]]:
        """UTC day -> ``viewport<tab>url`` -> its counts."""
        return self.pages.days

    def _settle(self, tab: Tab, kind: str, ts: int) -> None:
        keep = []
        answered = kind in RESPONSES
        for click in tab.pending:
            if ts - click[0] > DEAD_AFTER_MS:
                self._dead(click)
            elif not (answered and ts >= click[0]):
                keep.append(click)
        tab.pending = keep

    def _dead(self, click: list[Any]) -> None:
        page = self.pages.held(click[1], click[2])
        if page is not None:
            page.dead[click[3]] = page.dead.get(click[3], 0) + 1

    def _click(self, tab: Tab, ts: int, url: str, props: Mapping[str, Any]) -> None:
        x, y = float(props["x"]), float(props["y"])
        tab.viewport = viewport = viewport_class(props["viewport_w"])
        day, key, cell = ts - ts % DAY_MS, viewport + SEP + url, grid_cell(x, y)
        page = self.pages.page(day, key)
        page.clicks += 1
        page.grid[cell] += 1
        self.per_minute.click(ts, url)
        if tab.click_url != url:
            tab.click_url, tab.recent, tab.burst = url, [], None
        recent = [c for c in tab.recent if ts - c[0] <= RAGE_WINDOW_MS] if tab.recent else []
        burst = tab.burst
        r2 = _R2
        if (
            burst is not None
            and ts - burst[0] <= RAGE_WINDOW_MS
            and (x - burst[1]) ** 2 + (y - burst[2]) ** 2 <= r2
        ):
            burst[0] = ts
        elif len(recent) >= RAGE_CLICKS - 1:
            near = [c for c in recent if (x - c[1]) ** 2 + (y - c[2]) ** 2 <= r2]
            if len(near) >= RAGE_CLICKS - 1:
                first = near[0]
                spot = grid_cell(first[1], first[2])
                page.rage[spot] = page.rage.get(spot, 0) + 1
                self.per_minute.rage(ts)
                tab.burst = [ts, first[1], first[2]]
            else:
                tab.burst = None
        else:
            tab.burst = None
        recent.append([ts, x, y])
        tab.recent = recent[-4 * RAGE_CLICKS :]
        tab.pending.append([ts, day, key, cell])
        if len(tab.pending) > MAX_PENDING:
            self._dead(tab.pending.pop(0))

    def _view(self, tab: Tab, device: str, ts: int, url: str) -> None:
        viewport = tab.viewport or _DEVICE_VIEWPORT.get(device, "desktop")
        day, key = ts - ts % DAY_MS, viewport + SEP + url
        self.pages.page(day, key).views += 1
        tab.url, tab.view = url, [day, key, 0]

    def _scroll(self, tab: Tab, url: str, depth: float) -> None:
        view = tab.view
        if view is None or tab.url != url:
            return
        level = _level(depth)
        if level > view[2]:
            page = self.pages.held(view[0], view[1])
            if page is not None:
                for i in range(view[2], level):
                    page.reach[i] += 1
            view[2] = level

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold the clicks, views and scrolls of one ``EventBatch`` dict into the heatmaps."""
        sid, received = batch["session_id"], batch["received_at"]
        tab = self.tabs.get(sid)
        if tab is None:
            tab = self.tabs[sid] = Tab(received)
        elif received > tab.last_seen:
            tab.last_seen = received
        responses = RESPONSES
        for e in batch["events"]:
            kind, ts = e["type"], e["ts"]
            pending = tab.pending
            # Pending clicks are in time order: only a response or an expired click settles.
            if pending and (kind in responses or ts - pending[0][0] > DEAD_AFTER_MS):
                self._settle(tab, kind, ts)
            if kind == "click":
                self._click(tab, ts, e["url"], e["props"])
            elif kind == "page_view":
                self._view(tab, batch["device"], ts, e["url"])
            elif kind == "scroll":
                self._scroll(tab, e["url"], e["props"]["depth"])
                self.per_minute.scroll(ts)
            elif kind == "page_leave":
                self._scroll(tab, e["url"], e["props"]["scroll_depth"])
        if batch["events"]:  # every event moves the clock, so minutes close without clicks
            self.per_minute.advance(batch["events"][-1]["ts"], received)

    def _day(self, now_ms: int | None) -> dict[str, Page]:
        if now_ms is None:
            return self.days[max(self.days)] if self.days else {}
        return self.days.get(day_start(now_ms), {})

    def heatmap(self, url: str, viewport: str, now_ms: int | None = None) -> dict[str, Any]:
        """One page's heatmap for the UTC day of ``now_ms`` (default: the latest day held)."""
        page = self._day(now_ms).get(viewport + SEP + url) or Page()
        return page.report(url, viewport, with_grid=True)

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Today's (UTC) pages by clicks, with grids for the busiest ``TOP_GRIDS``."""
        pages = self._day(now_ms)
        ranked = sorted(
            ((k, p) for k, p in pages.items() if k != OTHER),
            key=lambda kp: (-kp[1].clicks, -kp[1].views, kp[0]),
        )
        out = []
        for i, (key, page) in enumerate(ranked[:TOP_PAGES]):
            viewport, url = key.split(SEP, 1)
            out.append(page.report(url, viewport, with_grid=i < TOP_GRIDS))
        other = pages.get(OTHER) or Page()
        return {
            "pages": out,
            "total_clicks": sum(p.clicks for p in pages.values()),
            "overflow": {"clicks": other.clicks, "views": other.views},
        }

    def expire(self, now_ms: int) -> None:
        """Settle and forget sessions idle for 30 minutes; forget days before yesterday."""
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, t in self.tabs.items() if t.last_seen <= idle]:
            for click in self.tabs.pop(sid).pending:
                self._dead(click)
        today = day_start(now_ms)
        # Days far in the future come from clocks that are wrong; they would never age.
        for day in [d for d in self.days if not today - DAY_MS <= d <= today + DAY_MS]:
            self.pages.forget(day)
        self.per_minute.expire(now_ms)

    @property
    def marks(self) -> Marks:
        """Versions of the per-minute part's minutes (``stream.metrics.minutes``)."""
        return self.per_minute.marks

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start`` (None when it holds nothing)."""
        return self.per_minute.tally(start)

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return self.per_minute.closed()

    def merge(self, other: HeatmapsState, *, sessions: bool = True) -> HeatmapsState:
        """A new state of both partitions (``sessions=False`` skips live tabs: display only)."""
        out = HeatmapsState(max(self.max_pages, other.max_pages))
        out.per_minute = self.per_minute.merge(other.per_minute)
        for source in (self, other):
            for day, pages in source.days.items():
                held = out.days.setdefault(day, {})
                for key, page in pages.items():
                    mine = held.get(key)
                    if mine is None:
                        mine = held[key] = Page()
                    mine.update(page)
            if sessions:
                # A session lives on one partition, so the tabs of two partitions never overlap.
                raw = orjson.loads(orjson.dumps({s: t.encode() for s, t in source.tabs.items()}))
                out.tabs.update({sid: Tab(*row) for sid, row in raw.items()})
        out.pages.trim()
        return out

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``)."""
        raw = {
            "max_pages": self.max_pages,
            "days": {
                str(d): {k: p.encode() for k, p in pages.items()} for d, pages in self.days.items()
            },
            "tabs": {sid: t.encode() for sid, t in self.tabs.items()},
            "per_minute": self.per_minute.encode(),
        }
        return codec.encode("heatmaps", 2, raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> HeatmapsState:
        """Rebuild a state written by ``to_bytes`` (or by the codec-less format before it)."""
        return codec.decode("heatmaps", data, {1: cls._read_v1, 2: cls._read_v2})

    @classmethod
    def _read_v2(cls, raw: dict[str, Any]) -> HeatmapsState:
        out = cls._read_v1(raw)
        out.per_minute = HeatMinutes.decode(raw["per_minute"])
        return out

    @classmethod
    def _read_v1(cls, raw: dict[str, Any]) -> HeatmapsState:
        # v1 kept no minutes and no clock.
        out = cls(raw["max_pages"])
        out.pages.days = {
            int(d): {k: Page.decode(row) for k, row in pages.items()}
            for d, pages in raw["days"].items()
        }
        out.tabs = {sid: Tab(*row) for sid, row in raw["tabs"].items()}
        return out

"""One visit to the site: where it starts, which pages follow, what gets filled or downloaded.

Visitors' intents and topic tastes decide each step, so the paths carry signal that
recommendation and funnel models can learn from.
"""

from __future__ import annotations

import random

from dojo_pulse.simulation import site
from dojo_pulse.simulation.beacon import Beacon
from dojo_pulse.simulation.page import browse, click, close_page, dwell_ms, open_page
from dojo_pulse.simulation.site import FORMS, Page
from dojo_pulse.simulation.visitors import Visitor
from stream.experiments.assignment import bucket

_SEARCH = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
_SOCIAL = ("https://www.facebook.com/", "https://www.instagram.com/", "https://t.co/")
_NEWSLETTER = "https://newsletter.dd-school.example/issue-42"
# Referrers that carry personal data; the validator must scrub them (counted as pii).
_PII_REFERRERS = (
    "https://mail.example.net/inbox?from=parent.smith@example.org",
    "https://links.dd-school.example/open?token=Zx81kQ2mP0vY",
    "https://webmail.example.com/read?to=karen.o@example.com&folder=inbox",
)


CANCEL_SHARE = 0.08  # registrations given back in part or whole
_BOUNCE = {"event_seeker": 0.22, "resource_learner": 0.26, "newcomer": 0.38, "blog_parent": 0.34}


def _by_taste(rng: random.Random, visitor: Visitor, pages: tuple[Page, ...]) -> Page:
    weights = [visitor.taste[p.topic] + 0.03 for p in pages]
    return rng.choices(pages, weights)[0]


def _entry(rng: random.Random, visitor: Visitor) -> tuple[Page, str | None]:
    roll = rng.random()
    intent = visitor.intent
    if roll < 0.03:
        return site.HOME if rng.random() < 0.5 else site.EVENTS, rng.choice(_PII_REFERRERS)
    if roll < 0.38:
        return (site.HOME if rng.random() < 0.75 else site.EVENTS), None
    if roll < 0.78:
        ref = rng.choices(_SEARCH, (0.8, 0.12, 0.08))[0]
        if intent == "resource_learner":
            return _by_taste(rng, visitor, site.RESOURCE_PAGES), ref
        if intent == "blog_parent":
            return _by_taste(rng, visitor, site.POST_PAGES), ref
        if intent == "event_seeker":
            return _by_taste(rng, visitor, site.EVENT_PAGES), ref
        return site.HOME, ref
    if roll < 0.9:
        return _by_taste(rng, visitor, site.UPCOMING), rng.choice(_SOCIAL)
    return (site.EVENTS if rng.random() < 0.6 else site.BLOG), _NEWSLETTER


def _next(rng: random.Random, visitor: Visitor, page: Page) -> Page | None:
    intent = visitor.intent
    kind = page.kind
    roll = rng.random()
    if kind == "home":
        choices = {
            "event_seeker": (site.EVENTS, site.EVENTS, site.EVENTS, site.ABOUT),
            "resource_learner": (site.RESOURCES, site.RESOURCES, site.EVENTS, site.BLOG),
            "newcomer": (site.ABOUT, site.EVENTS, site.VOLUNTEER, site.CONTACT),
            "blog_parent": (site.BLOG, site.BLOG, site.EVENTS, site.ABOUT),
        }[intent]
        return rng.choice(choices)
    if kind == "events":
        if roll < 0.85:
            upcoming = rng.random() < 0.75
            return _by_taste(rng, visitor, site.UPCOMING if upcoming else site.PAST)
        return site.HOME
    if kind == "event":
        if page.past:
            return site.CHECKIN_PAGES[page.url] if roll < 0.12 else (
                site.EVENTS if roll < 0.5 else None)  # fmt: skip
        register = 0.6 if intent == "event_seeker" else 0.2
        if roll < register:
            return site.REGISTER_PAGES[page.url]
        return site.EVENTS if roll < register + 0.2 else None
    if kind == "resources":
        return _by_taste(rng, visitor, site.RESOURCE_PAGES) if roll < 0.85 else None
    if kind == "resource":
        if roll < 0.4:
            return _by_taste(rng, visitor, site.RESOURCE_PAGES)
        return site.RESOURCES if roll < 0.55 else (site.EVENTS if roll < 0.62 else None)
    if kind == "blog":
        return _by_taste(rng, visitor, site.POST_PAGES) if roll < 0.85 else None
    if kind == "post":
        if roll < 0.35:
            return _by_taste(rng, visitor, site.POST_PAGES)
        return site.EVENTS if roll < 0.5 else (site.BLOG if roll < 0.58 else None)
    if kind == "info" and not page.form:
        return rng.choice((site.EVENTS, site.VOLUNTEER, site.CONTACT)) if roll < 0.6 else None
    if kind in ("register", "info"):
        return site.EVENTS if roll < 0.15 else None
    return None


def _fill_form(rng: random.Random, beacon: Beacon, visitor: Visitor, page: Page) -> None:
    """Start, fill field by field (values never sent), then submit or abandon."""
    form = FORMS[page.form]
    url = page.url
    fid = form.form_id
    keen = visitor.intent == "event_seeker" or page.form != "registration"
    n = len(form.fields)
    # Abandoning registrations is common; the field where people stop is the signal.
    stop_at = n if rng.random() < (0.62 if keen else 0.4) else rng.randrange(n)
    started = beacon.t
    beacon.emit("form_start", url, {"form_id": fid})
    for i, name in enumerate(form.fields):
        beacon.wait(400 + 1600 * rng.random())
        beacon.emit("form_field", url, {"form_id": fid, "field": name, "action": "focus"})
        if i == stop_at:
            beacon.wait(2000 + 8000 * rng.random())
            beacon.emit("form_abandon", url, {"form_id": fid,
                                              "duration_ms": int(beacon.t - started)})  # fmt: skip
            return
        beacon.wait(1500 + 6000 * rng.random())
        beacon.emit("form_field", url, {"form_id": fid, "field": name, "action": "change"})
        if name == "email" and rng.random() < 0.15:
            beacon.emit("form_field", url, {"form_id": fid, "field": name, "action": "error"})
            beacon.wait(1500 + 3000 * rng.random())
            beacon.emit("form_field", url, {"form_id": fid, "field": name, "action": "change"})
        beacon.emit("form_field", url, {"form_id": fid, "field": name, "action": "blur"})
    beacon.wait(500 + 1500 * rng.random())
    click(rng, beacon, visitor, url, "form button[type=submit]", "content")
    beacon.emit("form_submit", url, {"form_id": fid, "duration_ms": int(beacon.t - started)})
    if page.form == "registration":
        tickets = rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]
        beacon.emit("registration", url, {"dojo_event_id": page.item_id, "tickets": tickets})
        if rng.random() < CANCEL_SHARE:  # plans change: places given back on the booking page
            beacon.wait(20_000 + 60_000 * rng.random())
            given = rng.randint(1, tickets)
            cancel = {"dojo_event_id": page.item_id, "tickets": given}
            beacon.emit("registration_cancel", url, cancel)


def _page_actions(rng: random.Random, beacon: Beacon, visitor: Visitor, page: Page) -> None:
    if page.form and rng.random() < (0.85 if page.kind == "register" else 0.5):
        _fill_form(rng, beacon, visitor, page)
    elif page.kind == "resource":
        if rng.random() < (0.6 if visitor.intent == "resource_learner" else 0.25):
            click(rng, beacon, visitor, page.url, "button.download", "hero")
            beacon.emit("resource_download", page.url, {"resource_id": page.item_id})
    elif page.kind == "checkin":
        click(rng, beacon, visitor, page.url, "button.check-in", "hero")
        # A family checking itself in at the door's tablet: its head count, registered.
        count = rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]
        beacon.emit("attendance", page.url, {"dojo_event_id": page.item_id, "count": count})


def _newsletter(rng: random.Random, beacon: Beacon, visitor: Visitor, page: Page) -> None:
    # The orange call to action converts a little better: something for experiments to find.
    if rng.random() < (0.06 if visitor.variant == "orange" else 0.035):
        click(rng, beacon, visitor, page.url, "footer form button", "footer")
        url = page.url
        if rng.random() < 0.2:  # a leaky confirmation link carrying the address
            url = f"{page.url}?subscribed=reader{visitor.number}@example.org"
        beacon.emit("conversion", url, {"goal": site.GOAL})


def _aa_variant(visitor: Visitor) -> str:
    # A hash, not the rng: turning the A/A test on must not change anyone's behaviour.
    return site.AA_VARIANTS[bucket(site.AA_EXPERIMENT, visitor.visitor_id) % 2]


def visit(rng: random.Random, beacon: Beacon, visitor: Visitor, experiments: bool = False) -> None:
    """Simulate one whole session of ``visitor`` into ``beacon`` (``experiments``: the A/A too)."""
    page, referrer = _entry(rng, visitor)
    bounce = rng.random() < _BOUNCE[visitor.intent]
    engaged = 0.3 + 1.5 * rng.random()
    exposed = False
    aa_exposed = not experiments
    for n in range(12):
        shown = open_page(rng, beacon, visitor, page, referrer if n == 0 else None)
        # The call to action sits below the fold: exposure fires only for visitors who engage.
        if not bounce and not exposed and page.kind in ("home", "events"):
            exposed = True
            beacon.emit("experiment_exposure", page.url,
                        {"experiment": site.EXPERIMENT, "variant": visitor.variant})  # fmt: skip
        if not bounce and not aa_exposed and page.kind == "event":
            aa_exposed = True
            arm = {"experiment": site.AA_EXPERIMENT, "variant": _aa_variant(visitor)}
            beacon.emit("experiment_exposure", page.url, arm)
        depth = browse(rng, beacon, visitor, page, dwell_ms(rng, page, engaged), bounce)
        if not bounce:
            _page_actions(rng, beacon, visitor, page)
            if exposed:
                _newsletter(rng, beacon, visitor, page)
        close_page(rng, beacon, visitor, page, shown, depth)
        following = None if bounce else _next(rng, visitor, page)
        if following is None:
            return
        beacon.wait(150 + 600 * rng.random())  # navigation
        page = following


def crawl(rng: random.Random, beacon: Beacon, pages: int) -> None:
    """A crawler fetching ``pages`` pages quickly, rendering just enough to fire a view."""
    for _ in range(pages):
        page = rng.choice(site.ALL_PAGES)
        beacon.emit("page_view", page.url, {"title": page.title})
        beacon.flush()
        beacon.wait(300 + 1200 * rng.random())

"""The DD Coder Dojo website as the simulator sees it: pages, dojo events, resources, forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dojo_pulse import seed

TOPICS = ("scratch", "python", "web", "robotics", "games")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the site; ``topic`` drives visitors' choices, ``form`` names its form."""

    url: str
    title: str
    # home | events | event | register | checkin | resources | resource | blog | post | info
    kind: str
    topic: str = ""
    form: str = ""
    item_id: str = ""  # dojo_event_id or resource_id
    past: bool = False


@dataclass(frozen=True, slots=True)
class Form:
    """A form on the site and its fields in tab order (values are never sent)."""

    form_id: str
    fields: tuple[str, ...]


FORMS = {
    "registration": Form(
        "registration", ("parent_name", "email", "child_name", "child_age", "consent")
    ),
    "contact": Form("contact", ("name", "email", "message")),
    "volunteer": Form("volunteer", ("name", "email", "skills", "availability")),
}

# (slug, title, topic, past, capacity): the seeded catalogue's sessions of the weeks around
# today (dojo_pulse/seed.py), so simulated visits name pages the content API serves; item ids
# are the catalogue's, ``event:<slug>``. Read when the simulator starts: each run visits the
# sessions of its own weeks.
_TODAY = date.today()
_DOJO_EVENTS = tuple(
    (s.slug, s.title, s.topic, s.day < _TODAY, seed.CAPACITY) for s in seed.around(_TODAY)
)
CAPACITY = {f"event:{slug}": places for slug, _title, _topic, _past, places in _DOJO_EVENTS}

# (slug, title, topic): the seeded resources; item ids are the catalogue's, ``resource:<slug>``.
_RESOURCES = tuple((r.slug, r.title, r.topic) for r in seed.RESOURCES)

# (slug, title, topic)
_POSTS = (
    ("why-scratch-first", "Why We Start With Scratch", "scratch"),
    ("our-first-game-jam", "What Happened at Our First Game Jam", "games"),
    ("python-at-eleven", "Is Eleven Too Young for Python?", "python"),
    ("robots-in-the-library", "Robots in the Library", "robotics"),
    ("screen-time-and-making", "Screen Time vs. Making Time", "web"),
    ("meet-our-mentors", "Meet Our Mentors", "scratch"),
    ("girls-who-code-night", "Girls Who Code Night Recap", "web"),
    ("microbit-weather-station", "A Micro:bit Weather Station", "robotics"),
    ("from-blocks-to-text", "From Blocks to Text Code", "python"),
    ("holiday-projects", "Holiday Projects for Curious Kids", "games"),
)

HOME = Page("/", "DD Coder Dojo", "home")
EVENTS = Page("/events", "Dojo events", "events")
RESOURCES = Page("/resources", "Learning resources", "resources")
BLOG = Page("/blog", "Blog", "blog")
ABOUT = Page("/about", "About the dojo", "info")
CONTACT = Page("/contact", "Contact us", "info", form="contact")
VOLUNTEER = Page("/volunteer", "Volunteer as a mentor", "info", form="volunteer")

EVENT_PAGES = tuple(
    Page(f"/events/{slug}", title, "event", topic, item_id=f"event:{slug}", past=past)
    for slug, title, topic, past, _places in _DOJO_EVENTS
)
UPCOMING = tuple(p for p in EVENT_PAGES if not p.past)
PAST = tuple(p for p in EVENT_PAGES if p.past)
REGISTER_PAGES = {
    p.url: Page(
        f"{p.url}/register",
        f"Register: {p.title}",
        "register",
        p.topic,
        form="registration",
        item_id=p.item_id,
    )
    for p in UPCOMING
}
CHECKIN_PAGES = {
    p.url: Page(
        f"{p.url}/check-in",
        f"Check-in: {p.title}",
        "checkin",
        p.topic,
        item_id=p.item_id,
        past=True,
    )
    for p in PAST
}
RESOURCE_PAGES = tuple(
    Page(f"/resources/{slug}", title, "resource", topic, item_id=f"resource:{slug}")
    for slug, title, topic in _RESOURCES
)
POST_PAGES = tuple(Page(f"/blog/{slug}", title, "post", topic) for slug, title, topic in _POSTS)

ALL_PAGES = (
    HOME, EVENTS, RESOURCES, BLOG, ABOUT, CONTACT, VOLUNTEER,
    *EVENT_PAGES, *REGISTER_PAGES.values(), *CHECKIN_PAGES.values(),
    *RESOURCE_PAGES, *POST_PAGES,
)  # fmt: skip

ORIGIN = "https://dd-coder-dojo.example"

EXPERIMENT = "cta_colour"
VARIANTS = ("blue", "orange")
GOAL = "newsletter"
# With ``experiments`` on: an A/A test on event pages (the layout changes nothing), so the
# panel shows one experiment with a real effect and one without.
AA_EXPERIMENT = "events_layout"
AA_VARIANTS = ("list", "grid")

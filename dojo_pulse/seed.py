"""The seeded catalogue: a term of weekly dojo sessions, learning resources and the site's pages.

``dojo-pulse run`` imports it once per deployment (``seed_once``), so a new deployment shows
a realistic site, and the simulator visits the same slugs (``/events/<slug>``,
``/resources/<slug>``). A session's slug and theme follow from its date alone
(``<theme>-<yyyy-mm-dd>``), so the catalogue and the simulator agree without sharing state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stream.settings import Settings

ZONE = "Europe/London"
SATURDAY = 5
WINDOW_WEEKS = 4  # sessions the simulator visits on each side of today
VENUE = "DD Central Library, Makerspace (2nd floor)"
CAPACITY = 30
AUTHOR = "seed"

# (slug stem, title, topic): the sessions take them in turn, week by week.
THEMES = (
    ("scratch-game-jam", "Scratch Game Jam", "scratch"),
    ("python-turtle-art", "Python Turtle Art", "python"),
    ("robot-rally", "Micro:bit Robot Rally", "robotics"),
    ("web-pages-for-beginners", "Your First Web Page", "web"),
    ("winter-game-makers", "Game Makers", "games"),
    ("scratch-animation-club", "Scratch Animation Club", "scratch"),
    ("python-quiz-builders", "Build a Python Quiz", "python"),
    ("arduino-light-show", "Arduino Light Show", "robotics"),
)


@dataclass(frozen=True)
class Resource:
    """A learning resource: ``resource_id`` is what download events name."""

    slug: str
    title: str
    resource_id: str
    topic: str
    kind: str


RESOURCES = (
    Resource(
        "scratch-starter-cards",
        "Scratch Starter Cards",
        "res-scratch-cards",
        "scratch",
        "worksheet",
    ),
    Resource(
        "scratch-maze-game", "Make a Maze Game in Scratch", "res-scratch-maze", "scratch", "project"
    ),
    Resource(
        "scratch-music-maker", "Scratch Music Maker", "res-scratch-music", "scratch", "project"
    ),
    Resource("python-first-steps", "Python First Steps", "res-py-first", "python", "worksheet"),
    Resource("python-turtle-shapes", "Turtle Shapes", "res-py-turtle", "python", "worksheet"),
    Resource("python-quiz-game", "Write a Quiz Game", "res-py-quiz", "python", "project"),
    Resource("html-my-first-page", "HTML: My First Page", "res-html-first", "web", "worksheet"),
    Resource("css-colours-and-fonts", "CSS Colours and Fonts", "res-css-colours", "web", "video"),
    Resource(
        "javascript-clicker", "A JavaScript Clicker Game", "res-js-clicker", "games", "project"
    ),
    Resource(
        "microbit-name-badge", "Micro:bit Name Badge", "res-mb-badge", "robotics", "worksheet"
    ),
    Resource("line-follower-robot", "Line Follower Robot", "res-robot-line", "robotics", "video"),
    Resource("pygame-platformer", "Pygame Platformer", "res-pygame-platform", "games", "link"),
)

PAGES = (
    ("/", "DD Coder Dojo", "<p>A free coding club for young people aged 7 to 17.</p>"),
    ("/about", "About the dojo", "<h2>Who we are</h2>\n<p>Volunteers teaching on Saturdays.</p>"),
    ("/contact", "Contact us", "<p>Write to us with the form below; we answer within a week.</p>"),
    ("/volunteer", "Volunteer as a mentor", "<p>No teaching experience needed.</p>"),
)


@dataclass(frozen=True)
class Session:
    """One weekly dojo session."""

    day: date
    stem: str
    title: str
    topic: str

    @property
    def slug(self) -> str:
        return f"{self.stem}-{self.day.isoformat()}"


def session_on(day: date) -> Session:
    """The session of Saturday ``day``: its theme turns with the week number."""
    stem, title, topic = THEMES[(day.toordinal() // 7) % len(THEMES)]
    return Session(day, stem, title, topic)


def sessions(first: date, last: date) -> list[Session]:
    """Every Saturday's session from ``first`` to ``last``, both included."""
    day = first + timedelta(days=(SATURDAY - first.weekday()) % 7)
    found = []
    while day <= last:
        found.append(session_on(day))
        day += timedelta(days=7)
    return found


def around(today: date) -> list[Session]:
    """The sessions of the weeks around ``today``: ``WINDOW_WEEKS`` before it and from it on."""
    span = timedelta(days=7 * WINDOW_WEEKS)
    return sessions(today - span, today + span - timedelta(days=1))


def _at(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), ZoneInfo(ZONE)).isoformat()


def event_fields(session: Session) -> dict[str, Any]:
    """The seeded event of ``session``: 10:00-12:00 London time, registration for two weeks."""
    return {
        "slug": session.slug,
        "title": session.title,
        "starts_at": _at(session.day, 10),
        "ends_at": _at(session.day, 12),
        "timezone": ZONE,
        "venue": VENUE,
        "capacity": CAPACITY,
        "age_min": 7,
        "age_max": 17,
        "tags": [session.topic],
        # Every fifth week is booked out, so "full" has something to show.
        "status": "full" if session.day.toordinal() // 7 % 5 == 0 else "scheduled",
        "registration_opens": _at(session.day - timedelta(days=14), 9),
        "registration_closes": _at(session.day - timedelta(days=1), 18),
    }


# The simulator's experiments (``simulation.site``): one with a real effect, one A/A.
EXPERIMENT_DEFINITIONS = (
    {"key": "cta_colour", "title": "Newsletter button colour", "unit": "visitor",
     "description": "Does an orange newsletter button get more sign-ups than the blue one?",
     "variants": "blue: 50, orange: 50", "primary": "goal:newsletter", "status": "running",
     "guardrails": ["lcp", "inp", "errors"]},
    {"key": "events_layout", "title": "Event page layout (A/A check)", "unit": "visitor",
     "description": "Both layouts are the same page: a check that the statistics stay quiet.",
     "variants": "grid: 50, list: 50", "primary": "goal:*", "status": "running"},
)  # fmt: skip


def catalogue(term: tuple[date, date], today: date) -> dict[str, Any]:
    """The seed as an import file: the term's sessions (and the weeks the simulator visits)."""
    window = around(today)
    first, last = min(term[0], window[0].day), max(term[1], window[-1].day)
    items: list[dict[str, Any]] = [
        {"type": "event", "fields": event_fields(s), "publish": True} for s in sessions(first, last)
    ]
    items += [
        {"type": "resource", "publish": True, "fields": {
            "slug": r.slug, "title": r.title, "kind": r.kind, "tags": [r.topic], "age_min": 7,
            "age_max": 17, "url": f"https://dd-coder-dojo.example/files/{r.slug}",
        }}
        for r in RESOURCES
    ]  # fmt: skip
    items += [
        {"type": "page", "publish": True, "fields": {"path": p, "title": t, "body": b}}
        for p, t, b in PAGES
    ]
    from stream.experiments.definition import EXPERIMENT  # registers the type

    items += [
        {"type": EXPERIMENT.name, "publish": True, "fields": dict(fields)}
        for fields in EXPERIMENT_DEFINITIONS
    ]
    return {"items": items}


def seed_once(
    settings: Settings, echo: Callable[[str], None], today: date | None = None,
    kafka_wait_s: float = 20.0,
) -> bool:  # fmt: skip
    """Import the catalogue into an empty store, once per deployment; True if it did now."""
    import asyncio

    import orjson

    from live_feed.term import school_term
    from stream.content import ContentService
    from stream.content.bulk import apply, read
    from stream.content.kafka import send_all
    from stream.content.messages import Outbox
    from stream.store import open_store

    marker = settings.data_dir / f"seeded-{settings.topic_prefix}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    if marker.exists():
        return False
    today = today or date.today()
    term = school_term(today, settings.term_start, settings.term_end)
    engine = open_store(settings)
    try:
        outbox = Outbox()
        service = ContentService(engine, outbox, settings=settings)
        if service.list():  # content written another way first: never overwrite it
            marker.write_text("the store had content: not seeded\n")
            return False
        entries = read(orjson.dumps(catalogue(term, today)), "json")
        counts = apply(service, entries, AUTHOR)
    finally:
        engine.dispose()
    echo(f"content: seeded {counts.created} items (a term of dojo sessions, resources, pages)")
    try:
        asyncio.run(send_all(settings.kafka, outbox.messages, timeout_s=kafka_wait_s))
    except TimeoutError:
        echo("content: Kafka did not take the seed; the live feed sends it at its start")
    marker.write_text("content seeded by `dojo-pulse run`\n")
    return True

"""Items of the site: safe, allow-listed paths only; and what serving lets through."""

from __future__ import annotations

import pickle

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.learning.items import MAX_CHARS, SITE_ITEMS, ItemPaths, item_paths
from stream.learning.serving import served
from stream.settings import Settings

XSS = "/resources/<img src=x onerror=alert(1)>"
HOSTILE = [
    XSS,
    "/resources/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "/resources/%253Cimg%253E",  # double-encoded: one decoding leaves a '%'
    '/resources/a"onmouseover="x',
    "/resources/it's",
    "/resources/two words",
    "/resources/tab\there",
    "/resources/..",
    "/resources/.hidden",
    "/resources/%2E%2E",
    "/resources/a%2Fb",  # a decoded '/' makes a second segment the pattern refuses
    "/resources/" + "a" * MAX_CHARS,
    "/resources/scratch-cards/extra",
    "/admin",
    "//evil.example/resources/x",
    "https://evil.example/resources/x",
    "javascript:alert(1)",
    "/resources/\uff53cratch",  # a fullwidth letter: not ASCII
    "",
    "/events/x\n",
]


def test_site_paths_are_items() -> None:
    for path in ("/", "/events", "/events/robot-rally", "/resources/scratch-cards", "/about"):
        assert SITE_ITEMS.item(path) == path
        assert path in SITE_ITEMS


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_never_items(path: str) -> None:
    assert SITE_ITEMS.item(path) is None
    assert path not in SITE_ITEMS


def test_percent_escapes_are_decoded_into_the_item() -> None:
    assert SITE_ITEMS.item("/resources/scratch%2Dcards") == "/resources/scratch-cards"
    # Membership is for stored names, which are decoded: an escaped form is not one.
    assert "/resources/scratch%2Dcards" not in SITE_ITEMS


def test_patterns_come_from_the_setting() -> None:
    settings = Settings.from_env({"DOJO_ITEM_PATHS": "/learn/**, /"})
    paths = item_paths(settings.item_paths)
    assert paths.item("/learn/scratch/basics") == "/learn/scratch/basics"
    assert paths.item("/resources/scratch-cards") is None
    assert ItemPaths(()).item("/") is None, "an empty allow-list allows nothing"
    assert item_paths(settings.item_paths) is paths, "compiled once per setting"


def test_items_pickle_as_their_patterns() -> None:
    back = pickle.loads(pickle.dumps(SITE_ITEMS))
    assert back.patterns == SITE_ITEMS.patterns
    assert back.item("/events/robot-rally") == "/events/robot-rally"


@given(st.text(max_size=2 * MAX_CHARS))
def test_an_item_is_always_safe_markup_free_text(path: str) -> None:
    item = SITE_ITEMS.item("/resources/" + path)
    if item is not None:
        assert not set(item) & set("<>\"'` %\\&;()")
        assert len(item) <= MAX_CHARS and item.isascii()


def test_serving_passes_only_site_items_for_known_reasons() -> None:
    good = [
        {"item": "/events/robot-rally", "score": 0.9, "reason": "popular right now"},
        {"item": "/resources/scratch-cards", "score": 0.8, "reason": "matches your interests"},
        {"item": "/blog/why-scratch-first", "score": 0.7, "reason": "often next after /events"},
    ]
    bad = [
        {"item": XSS, "score": 9.9, "reason": "popular right now"},
        {"item": "/events/robot-rally", "score": 0.5, "reason": f"often next after {XSS}"},
        {"item": "/events/robot-rally", "score": 0.5, "reason": "<b>buy now</b>"},
        {"item": ["/events/robot-rally"], "score": 0.5, "reason": "popular right now"},
        "/events/robot-rally",
        None,
    ]
    assert served(orjson.dumps(bad[:2] + good + bad[2:]), SITE_ITEMS) == good
    assert served(b"not json", SITE_ITEMS) == []
    assert served(b'{"item": "/events"}', SITE_ITEMS) == []

"""Scrubbing personal data and normalising URLs."""

from __future__ import annotations

import pytest

from stream.sanitize import normalize_url, sanitize_event, scrub_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+dojo@example.co.uk now", "mail [email] now"),
        ("call +44 20 7946 0958", "call [phone]"),
        ("call (020) 7946-0958", "call [phone]"),
        ("dojo on 2026-11-25 at 10:00", "dojo on 2026-11-25 at 10:00"),
        ("room 101, 12 kids", "room 101, 12 kids"),
        ("reset AbCdEf1234567890AbCdEf12 done", "reset [token] done"),
        ("scratch-beginners-guide-to-games", "scratch-beginners-guide-to-games"),
    ],
)
def test_scrub_text(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    ("url", "path_form", "host_form"),
    [
        ("/events", "/events", "/events"),
        ("/events/#top", "/events/", "/events/"),
        ("/events?b=2&a=1", "/events?a=1&b=2", "/events?a=1&b=2"),
        ("HTTPS://Dojo.Example:443/Blog?x=1#c", "/Blog?x=1", "https://dojo.example/Blog?x=1"),
        ("http://dojo.example:8080/", "/", "http://dojo.example:8080/"),
        ("/reset?token=abc&u=1", "/reset?token=redacted&u=1", "/reset?token=redacted&u=1"),
        ("/r?Email=a%40b.com", "/r?Email=redacted", "/r?Email=redacted"),
        ("/r?next=a%40b.com", "/r?next=[email]", "/r?next=[email]"),
        ("/parents/jo@example.com/edit", "/parents/[email]/edit", "/parents/[email]/edit"),
        ("https://www.google.com/", "/", "https://www.google.com/"),
        ("http://[::1", "http://[::1", "http://[::1"),
    ],
)
def test_normalize_url(url: str, path_form: str, host_form: str) -> None:
    assert normalize_url(url, keep_host=False) == path_form
    assert normalize_url(url, keep_host=True) == host_form


def test_sanitize_event_cleans_url_referrer_and_title() -> None:
    event: dict[str, object] = {
        "url": "/contact?email=kid@example.com#form",
        "referrer": "https://Mail.Example.com/inbox?token=xyz",
        "props": {"title": "Thanks jo@example.com"},
    }
    clean, changed = sanitize_event(event)
    assert changed
    assert clean["url"] == "/contact?email=redacted"
    assert clean["referrer"] == "https://mail.example.com/inbox?token=redacted"
    assert clean["props"] == {"title": "Thanks [email]"}
    assert "example.com/inbox" in str(clean["referrer"])
    assert event["url"] == "/contact?email=kid@example.com#form", "input must not be mutated"


def test_sanitize_event_keeps_clean_events_identical() -> None:
    event: dict[str, object] = {"url": "/events/scratch", "referrer": "", "props": {}}
    clean, changed = sanitize_event(event)
    assert clean is event
    assert not changed

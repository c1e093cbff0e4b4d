"""Funnel definitions: the shipped file, url patterns, step matching and config errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stream.metrics.funnel_config import (
    DEFAULT_PATH,
    FunnelConfigError,
    funnels_as_dict,
    load_funnels,
    parse_funnels,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "funnels.yaml"
    path.write_text(text)
    return path


def test_shipped_registration_funnel() -> None:
    (funnel,) = load_funnels(DEFAULT_PATH)
    assert funnel.name == "registration"
    assert funnel.window_ms == 30 * 60_000
    assert [s.name for s in funnel.steps] == [
        "home",
        "events_list",
        "event_detail",
        "form_started",
        "form_submitted",
    ]
    home, events, detail, started, submitted = funnel.steps
    assert home.matches("page_view", "/", {})
    assert not home.matches("page_view", "/events", {})
    assert events.matches("page_view", "/events", {})
    assert detail.matches("page_view", "/events/robot-rally", {})
    assert detail.matches("page_view", "/events/robot-rally?ref=a", {})
    assert not detail.matches("page_view", "/events/robot-rally/register", {})
    assert not detail.matches("page_view", "/events/", {})
    assert not detail.matches("click", "/events/robot-rally", {})
    assert started.matches("form_start", "/x", {"form_id": "registration"})
    assert not started.matches("form_start", "/x", {"form_id": "contact"})
    assert not started.matches("form_submit", "/x", {"form_id": "registration"})
    assert submitted.matches("form_submit", "/x", {"form_id": "registration", "duration_ms": 5})


def test_double_star_spans_segments() -> None:
    (f,) = parse_funnels({"funnels": [{"name": "f", "steps": [{"name": "a", "url": "/r/**"}]}]})
    assert f.steps[0].matches("page_view", "/r/a/b/c", {})
    assert not f.steps[0].matches("page_view", "/s/a", {})


def test_listing_round_trips_through_parse() -> None:
    funnels = load_funnels()
    listed = funnels_as_dict(funnels)
    assert listed["funnels"][0]["steps"][2] == {"name": "event_detail", "url": "/events/*"}
    assert parse_funnels(listed) == funnels


def test_custom_window(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "funnels:\n  - name: quick\n    window_minutes: 2\n    steps:\n"
        "      - {name: a, url: /}\n      - {name: b, event: conversion, props: {goal: x}}\n",
    )
    (f,) = load_funnels(path)
    assert f.window_ms == 120_000
    assert f.steps[1].props == {"goal": "x"}


BAD: list[tuple[Any, str]] = [
    ({"funnels": []}, "non-empty list"),
    ({"funnels": [{"name": "f", "steps": []}]}, "funnel 'f': 'steps' must be a non-empty"),
    ({"funnels": [{"name": "f", "steps": [{"name": "a", "url": "/"}], "colour": 1}]}, "colour"),
    ({"funnels": [{"name": "f", "steps": [{"name": "a", "url": "/", "x": 1}]}]}, "step 1 ('a')"),
    ({"funnels": [{"name": "f", "steps": [{"name": "a", "event": "tap"}]}]}, "bad event type"),
    ({"funnels": [{"name": "f", "steps": [{"name": "a"}]}]}, "exactly one of 'url' or 'event'"),
    (
        {"funnels": [{"name": "f", "steps": [{"name": "a", "url": "/", "event": "click"}]}]},
        "exactly one",
    ),
    ({"funnels": [{"name": "f", "steps": [{"name": "a", "url": "events"}]}]}, "starting with"),
    ({"funnels": [{"name": "f", "steps": [{"name": "a", "url": "/e*"}]}]}, "whole path segments"),
    (
        {"funnels": [{"name": "f", "steps": [{"name": "a", "url": "/", "props": {"a": 1}}]}]},
        "'props' goes with 'event'",
    ),
    (
        {"funnels": [{"name": "f", "steps": [{"name": "a", "url": "/"}] * 2}]},
        "duplicate step name 'a'",
    ),
    (
        {
            "funnels": [
                {"name": "f", "steps": [{"name": "a", "url": "/"}]},
                {"name": "f", "steps": [{"name": "a", "url": "/"}]},
            ]
        },
        "duplicate funnel name 'f'",
    ),
    (
        {"funnels": [{"name": "f", "window_minutes": 0, "steps": [{"name": "a", "url": "/"}]}]},
        "window_minutes",
    ),
    ({"funnels": [{"steps": [{"name": "a", "url": "/"}]}]}, "funnel 1: name"),
    ({"funnel": []}, "unknown key(s) funnel"),
    (["not", "a", "mapping"], "expected a mapping"),
]


@pytest.mark.parametrize(("raw", "fragment"), BAD)
def test_errors_name_file_funnel_and_step(raw: Any, fragment: str) -> None:
    with pytest.raises(FunnelConfigError) as info:
        parse_funnels(raw, "site.yaml")
    message = str(info.value)
    assert message.startswith("site.yaml")
    assert fragment in message


def test_error_names_the_step_in_a_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "funnels:\n  - name: reg\n    steps:\n      - {name: a, url: /}\n"
        "      - {name: b, event: form_start, prop: {form_id: x}}\n",
    )
    with pytest.raises(FunnelConfigError, match=r"funnel 'reg', step 2 \('b'\): unknown key"):
        load_funnels(path)
    with pytest.raises(FunnelConfigError, match=str(path)):
        load_funnels(path)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(FunnelConfigError, match="cannot read"):
        load_funnels(tmp_path / "missing.yaml")
    with pytest.raises(FunnelConfigError, match="not valid YAML"):
        load_funnels(write(tmp_path, "funnels: [\n"))

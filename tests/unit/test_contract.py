"""The v1 event contract, type by type."""

from __future__ import annotations

from typing import Any

import pytest

from stream.contract import TYPES, Limits, Rejection, validate_event

NOW = 1_764_000_000_000

VALID_PROPS: dict[str, dict[str, Any]] = {
    "page_view": {"title": "Upcoming dojos"},
    "page_leave": {"dwell_ms": 12_000, "scroll_depth": 0.75},
    "click": {"x": 0.5, "y": 0.1, "selector": "nav > a", "viewport_w": 390, "viewport_h": 844},
    "scroll": {"depth": 0.5},
    "form_start": {"form_id": "registration"},
    "form_submit": {"form_id": "registration", "duration_ms": 41_000},
    "form_abandon": {"form_id": "registration", "duration_ms": 9_000},
    "form_field": {"form_id": "registration", "field": "email", "action": "blur"},
    "web_vital": {"name": "LCP", "value": 1830.5},
    "registration": {"dojo_event_id": "dojo-2026-12-06", "tickets": 2},
    "attendance": {"dojo_event_id": "dojo-2026-11-22"},
    "resource_download": {"resource_id": "scratch-cards"},
    "experiment_exposure": {"experiment": "cta_colour", "variant": "orange"},
    "conversion": {"goal": "newsletter"},
}


def event(kind: str = "page_view", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "evt_00000001",
        "type": kind,
        "ts": NOW - 1000,
        "session_id": "sess_0000001",
        "url": "/events",
        "props": dict(VALID_PROPS[kind]),
    }
    base.update(overrides)
    return base


def rejected(item: Any, received_at: int = NOW) -> Rejection:
    verdict = validate_event(item, received_at)
    assert isinstance(verdict, Rejection), verdict
    return verdict


def test_every_type_has_a_valid_example() -> None:
    assert set(VALID_PROPS) == TYPES


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_valid_event_of_each_type_passes(kind: str) -> None:
    verdict = validate_event(event(kind), NOW)
    assert isinstance(verdict, dict)
    assert verdict["type"] == kind
    assert verdict["props"] == VALID_PROPS[kind]
    assert verdict["referrer"] == ""


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_unknown_prop_is_rejected_for_each_type(kind: str) -> None:
    bad = event(kind)
    bad["props"]["value_typed"] = "secret@example.com"
    verdict = rejected(bad)
    assert (verdict.reason, verdict.field) == ("schema", "props.value_typed")


@pytest.mark.parametrize(
    ("kind", "prop", "value"),
    [
        ("page_leave", "scroll_depth", 1.5),
        ("page_leave", "dwell_ms", -1),
        ("click", "x", -0.1),
        ("click", "viewport_w", 0),
        ("click", "viewport_w", 2.5),
        ("scroll", "depth", "half"),
        ("form_field", "action", "type"),
        ("web_vital", "name", "FID"),
        ("web_vital", "value", float("nan")),
        ("registration", "tickets", 0),
        ("registration", "tickets", True),
        ("form_start", "form_id", ""),
        ("form_field", "field", "x" * 65),
    ],
)
def test_out_of_range_props_are_schema_errors(kind: str, prop: str, value: Any) -> None:
    bad = event(kind)
    bad["props"][prop] = value
    verdict = rejected(bad)
    assert (verdict.reason, verdict.field) == ("schema", f"props.{prop}")


@pytest.mark.parametrize(
    ("kind", "missing"),
    [("click", "viewport_h"), ("form_field", "action"), ("web_vital", "value"),
     ("registration", "tickets"), ("conversion", "goal"), ("page_leave", "dwell_ms")],
)  # fmt: skip
def test_missing_required_prop_is_named(kind: str, missing: str) -> None:
    bad = event(kind)
    del bad["props"][missing]
    assert rejected(bad).field == f"props.{missing}"


def test_optional_props_may_be_absent() -> None:
    assert isinstance(validate_event(event("page_view", props={}), NOW), dict)
    assert isinstance(validate_event(event("form_submit", props={"form_id": "contact"}), NOW), dict)
    assert isinstance(validate_event({k: v for k, v in event().items() if k != "props"}, NOW), dict)


@pytest.mark.parametrize(
    ("item", "reason", "field"),
    [
        (42, "malformed", ""),
        ("page_view", "malformed", ""),
        (None, "malformed", ""),
        ([1, 2], "malformed", ""),
        (event(extra=1), "schema", "extra"),
        (event(event_id="short"), "schema", "event_id"),
        (event(event_id="has space in it"), "schema", "event_id"),
        (event(session_id="x" * 65), "schema", "session_id"),
        (event(type="purchase"), "type", "type"),
        (event(type=7), "schema", "type"),
        (event(ts="yesterday"), "schema", "ts"),
        (event(ts=1.5e12), "schema", "ts"),
        (event(ts=True), "schema", "ts"),
        (event(ts=NOW - 49 * 3_600_000), "too_old", "ts"),
        (event(ts=NOW + 6 * 60_000), "too_new", "ts"),
        (event(url="/" + "a" * 2048), "size", "url"),
        (event(referrer="https://x.org/" + "a" * 2048), "size", "referrer"),
        (event(url=""), "schema", "url"),
        (event(url="javascript:alert(1)"), "schema", "url"),
        (event(referrer=5), "schema", "referrer"),
        (event(props=[1]), "schema", "props"),
    ],
)
def test_rejections_carry_reason_and_field(item: Any, reason: str, field: str) -> None:
    verdict = rejected(item)
    assert (verdict.reason, verdict.field) == (reason, field)
    assert verdict.detail


def test_clock_limits_are_configurable() -> None:
    strict = Limits(max_age_ms=1000, max_skew_ms=0)
    assert isinstance(validate_event(event(ts=NOW - 5000), NOW, strict), Rejection)
    assert isinstance(validate_event(event(ts=NOW - 500), NOW, strict), dict)

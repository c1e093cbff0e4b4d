"""The v1 event contract, type by type."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.ingest.contract import (
    EVENT_KEYS,
    PROPS,
    REASONS,
    TYPES,
    Limits,
    Rejection,
    Unjudged,
    validate_event,
)

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
    "registration_cancel": {"dojo_event_id": "event:scratch-2026-12-05", "tickets": 1},
    "attendance": {"dojo_event_id": "dojo-2026-11-22", "count": 3, "walk_in": True},
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
        ("registration_cancel", "tickets", 21),
        ("registration_cancel", "tickets", 1.0),
        ("attendance", "count", 0),
        ("attendance", "count", 51),
        ("attendance", "walk_in", 1),
        ("attendance", "walk_in", "true"),
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


def test_a_v1_attendance_is_still_valid_in_v1_1() -> None:
    verdict = validate_event(event("attendance", props={"dojo_event_id": "dojo-2026-11-22"}), NOW)
    assert isinstance(verdict, dict)
    assert verdict["props"] == {"dojo_event_id": "dojo-2026-11-22"}


@pytest.mark.parametrize("value", [[], {}, None, 0, 1, "false", 0.0, [True]])
def test_walk_in_accepts_only_booleans(value: Any) -> None:
    bad = event("attendance")
    bad["props"]["walk_in"] = value
    assert (rejected(bad).reason, rejected(bad).field) == ("schema", "props.walk_in")


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


# Every JSON type orjson can hand over, at the edges: huge and u64 integers, -0.0 and 1e308,
# empty, huge and non-ASCII strings, and containers holding any of them.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.sampled_from([0, -1, 2**53 + 1, 2**63 - 1, 2**64 - 1, -(2**63)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([-0.0, 0.0, 5e-324, 1e308, -1e308, 0.5, 1.0, 1.0000000000000002])
    | st.text(max_size=30)
    | st.sampled_from(["", "LCP", "blur", "é" * 3000, "\U0001f600", "\x00", "a" * 70_000])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = sorted(EVENT_KEYS - {"props"})


def every_field(kind: str) -> list[str]:
    required, optional = PROPS[kind]
    return FIELDS + ["props"] + [f"props.{key}" for key in (*required, *optional)]


def put(item: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    if field.startswith("props."):
        item["props"][field.removeprefix("props.")] = value
    else:
        item[field] = value
    return item


@pytest.mark.parametrize("kind", sorted(TYPES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_json_value_in_any_field_is_judged_never_raises(kind: str, data: st.DataObject) -> None:
    fields = st.lists(st.sampled_from(every_field(kind)), min_size=1, max_size=3, unique=True)
    item = event(kind)
    # Properties first, so a later non-object "props" replaces them instead of holding them.
    for field in sorted(data.draw(fields, label="fields"), key=lambda f: "." not in f):
        item = put(item, field, data.draw(json_values, label=field))
    verdict = validate_event(item, NOW)
    if isinstance(verdict, Rejection):
        assert verdict.reason in REASONS
        assert verdict.detail
    else:
        assert verdict["type"] == kind
        assert orjson.loads(orjson.dumps(verdict)) == verdict  # a clean event travels as JSON


@pytest.mark.parametrize(
    ("kind", "prop"),
    [("web_vital", "name"), ("form_field", "action")],
)
@pytest.mark.parametrize("value", [[], {}, ["LCP"], {"LCP": 1}, None, 7, True])
def test_choices_refuse_values_that_are_not_strings(kind: str, prop: str, value: Any) -> None:
    bad = event(kind)
    bad["props"][prop] = value
    verdict = rejected(bad)
    assert (verdict.reason, verdict.field) == ("schema", f"props.{prop}")


def test_a_check_that_raises_is_named_by_its_property(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(value: Any) -> str | None:
        raise KeyError(value)

    monkeypatch.setitem(PROPS, "conversion", ({"goal": broken}, {}))
    with pytest.raises(Unjudged) as raised:
        validate_event(event("conversion"), NOW)
    assert raised.value.field == "props.goal"
    assert isinstance(raised.value.__cause__, KeyError)

"""The content types' validation: every field, every JSON type, oversize, bad text, HTML."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.content.errors import Invalid
from stream.content.fields import Field
from stream.content.types import TYPES, ContentType, register
from tests.store.content_items import VALID, event, page, resource

JSON_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, 2**70, "", "x", [], ["x"], {}, {"a": 1}]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = [(t, f.name) for t in ("event", "resource", "page") for f in TYPES[t].fields]


def test_valid_items_are_kept_as_given() -> None:
    for name, fields in VALID.items():
        assert TYPES[name].validate(fields) == {}
        assert TYPES[name].clean(fields) == fields


@pytest.mark.parametrize(("type_name", "field"), FIELDS)
def test_every_json_type_in_every_field_is_accepted_only_in_its_kind(
    type_name: str, field: str
) -> None:
    content_type = TYPES[type_name]
    for value in JSON_VALUES:
        fields = VALID[type_name] | {field: value}
        errors = content_type.validate(fields)
        if value is None:
            required = content_type.field(field).required  # type: ignore[union-attr]
            assert errors == ({field: "is required"} if required else {}), value
        elif errors:
            assert set(errors) <= {field, "ends_at", "age_max", "registration_closes"}, (
                value,
                errors,
            )
            assert all(isinstance(m, str) and m for m in errors.values())


@pytest.mark.parametrize(("type_name", "field"), FIELDS)
@given(value=JSON)
@settings(max_examples=40)  # x 25 fields
def test_any_json_value_gives_messages_or_a_clean_item(
    type_name: str, field: str, value: Any
) -> None:
    content_type = TYPES[type_name]
    try:
        cleaned = content_type.clean(VALID[type_name] | {field: value})
    except Invalid as invalid:
        assert invalid.errors and all(isinstance(m, str) for m in invalid.errors.values())
    else:
        assert content_type.validate(cleaned) == {}  # cleaning is idempotent


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (event(capacity=-1), {"capacity": "must be from 0 to 10000"}),
        (event(capacity=True), {"capacity": "must be a whole number, not a boolean"}),
        (event(capacity="30"), {"capacity": "must be a whole number, not str"}),
        (
            event(starts_at="2026-12-05T10:00:00"),
            {"starts_at": "must say its UTC offset (+00:00, Z)"},
        ),
        (event(ends_at="2026-12-05T09:00:00+00:00"), {"ends_at": "must be after the start"}),
        (event(age_min=12, age_max=7), {"age_max": "must not be below the minimum age"}),
        (event(timezone="Mars/Olympus"), {"timezone": "must be an IANA time zone (Europe/London)"}),
        (
            event(timezone="../../etc/passwd"),
            {"timezone": "must be an IANA time zone (Europe/London)"},
        ),
        (event(status="postponed"), {"status": "must be one of scheduled, full, cancelled"}),
        (
            event(slug="Scratch Club"),
            {"slug": "use lower-case letters, digits and single hyphens (scratch-club)"},
        ),
        (event(title="   "), {"title": "must not be empty"}),
        (event(title="x" * 121), {"title": "must be at most 120 characters"}),
        (event(title="nul\x00byte"), {"title": "must not hold control characters"}),
        (event(title="new\nline"), {"title": "must not hold control characters"}),
        (event(title="lone \ud800 surrogate"), {"title": "is not valid Unicode text"}),
        (event(tags="scratch"), {"tags": "must be a list of tags, not str"}),
        (event(tags=["x"] * 21), {"tags": "at most 20 tags"}),
        (event(venue=None), {"venue": "is required"}),
        (event(colour="red"), {"colour": "is not a field of event"}),
        (resource(kind="podcast"), {"kind": "must be one of worksheet, video, project, link"}),
        (
            resource(url="javascript:alert(1)"),
            {"url": "must be an http(s) URL or a path on the site (/files/...)"},
        ),
        (
            resource(url="//evil.example/x"),
            {"url": "must be an http(s) URL or a path on the site (/files/...)"},
        ),
        (
            page(path="about"),
            {"path": "must be a site path: /, /about, /clubs/scratch (lower case)"},
        ),
        (
            page(path="/../etc"),
            {"path": "must be a site path: /, /about, /clubs/scratch (lower case)"},
        ),
        (page(body="x" * 100_001), {"body": "must be at most 100000 characters"}),
    ],
)
def test_bad_values_get_a_message_on_their_field(
    fields: dict[str, Any], errors: dict[str, str]
) -> None:
    content_type = TYPES[
        "page" if "path" in fields else "resource" if "kind" in fields else "event"
    ]
    assert content_type.validate(fields) == errors


def test_fields_that_are_not_an_object_are_one_message() -> None:
    for value in [*JSON_VALUES, "{}", b"{}"]:
        if not isinstance(value, dict):
            assert TYPES["event"].validate(value) == {"fields": "must be an object of field values"}
    assert TYPES["page"].validate({}) == {
        "path": "is required",
        "title": "is required",
        "body": "is required",
    }


def test_non_string_field_names_are_reported_not_crashed_on() -> None:
    errors = TYPES["page"].validate(page() | {1: "x", None: "y"})
    assert errors == {"1": "is not a field of page", "None": "is not a field of page"}


def test_datetimes_are_stored_in_one_spelling() -> None:
    cleaned = TYPES["event"].clean(
        event(starts_at="2026-12-05T10:00:00Z", ends_at="2026-12-05T12:00+01:00")
    )
    assert (cleaned["starts_at"], cleaned["ends_at"]) == (
        "2026-12-05T10:00:00+00:00",
        "2026-12-05T12:00:00+01:00",
    )


def test_tags_are_deduplicated_in_order() -> None:
    assert TYPES["event"].clean(event(tags=["b", "a", "b"]))["tags"] == ["b", "a"]


@pytest.mark.parametrize(
    ("body", "kept", "gone"),
    [
        ("<p>hi</p><script>alert(1)</script>", "<p>hi</p>", "script"),
        ('<img src="x.png" onerror="alert(1)">', '<img src="x.png">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', ">x</a>", "javascript"),
        (
            '<a href="https://scratch.mit.edu">Scratch</a>',
            'href="https://scratch.mit.edu"',
            "<script",
        ),
        ("<style>body{}</style><p>t</p>", "<p>t</p>", "<style"),
        ("<iframe src='https://evil.example'></iframe>ok", "ok", "iframe"),
        ('<p style="x" onclick="y">z</p>', "<p>z</p>", "onclick"),
        ("<scr<script>ipt>alert(1)</script>", "", "<script"),
        ("<!-- secret --><b>b</b>", "<b>b</b>", "secret"),
        (
            "## Markdown *stays* text\n\n- one\n- two",
            "## Markdown *stays* text\n\n- one\n- two",
            "<",
        ),
    ],
)
def test_page_bodies_are_sanitised_by_nh3(body: str, kept: str, gone: str) -> None:
    cleaned = TYPES["page"].clean(page(body=body))["body"]
    assert kept in cleaned
    assert gone not in cleaned


def test_field_specs_describe_every_field_for_forms() -> None:
    spec = TYPES["event"].spec()
    assert spec["key"] == "slug"
    by_name = {f["name"]: f for f in spec["fields"]}  # type: ignore[attr-defined]
    assert by_name["status"]["options"] == ["scheduled", "full", "cancelled"]
    assert by_name["capacity"] | {} == {
        "name": "capacity",
        "kind": "int",
        "required": True,
        "label": "Capacity",
        "minimum": 0,
        "maximum": 10_000,
    }
    assert TYPES["page"].spec()["fields"][2]["multiline"] is True  # type: ignore[index]


def test_register_adds_a_type_and_refuses_a_taken_name() -> None:
    custom = ContentType(
        "note-test", (Field("slug", "slug", required=True), Field("title", "text")), key="slug"
    )
    try:
        assert register(custom) is custom and TYPES["note-test"] is custom
        assert register(custom) is custom  # registering the same type twice is harmless
        with pytest.raises(ValueError, match="registered already"):
            register(ContentType("note-test", custom.fields, key="slug"))
    finally:
        TYPES.pop("note-test", None)
    with pytest.raises(ValueError, match="unique and not"):
        ContentType("bad", (Field("id", "slug"),), key="id")
    with pytest.raises(ValueError, match="unknown field kind"):
        Field("x", "colour")

"""The catalogue read from ``dojo.content``: good snapshots joined, anything else left out."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.dojo_catalogue import Catalogue, DojoEvent, Resource, read_item

EVENT = {"id": "event:scratch-2026-12-05", "type": "event", "revision": 3,
         "title": "Scratch Saturday", "starts_at": "2026-12-05T10:00:00+00:00",
         "ends_at": "2026-12-05T12:00:00+00:00", "capacity": 30, "age_min": 7, "age_max": 12,
         "tags": ["scratch"], "status": "scheduled",
         "registration_closes": "2026-12-04T18:00:00+00:00"}  # fmt: skip


def test_an_event_snapshot_is_read() -> None:
    item = read_item(EVENT["id"], orjson.dumps(EVENT))
    assert isinstance(item, DojoEvent)
    assert (item.capacity, item.age_min, item.tags) == (30, 7, ("scratch",))
    assert item.starts_ms - item.closes_ms == 16 * 3_600_000


def test_fields_may_sit_under_fields_and_close_defaults_to_start() -> None:
    fields = {k: v for k, v in EVENT.items() if k != "registration_closes"}
    item = read_item("event:a", orjson.dumps({"id": "event:a", "fields": fields}))
    assert isinstance(item, DojoEvent)
    assert item.closes_ms == item.starts_ms


def test_a_tombstone_removes_and_a_resource_is_kept() -> None:
    catalogue = Catalogue()
    catalogue.apply(b"event:a", orjson.dumps(EVENT))
    catalogue.apply(b"resource:cards", orjson.dumps({"title": "Cards", "tags": ["scratch", 3]}))
    assert set(catalogue.events) == {"event:a"}
    assert catalogue.resources["resource:cards"] == Resource(
        "resource:cards", "Cards", ("scratch",)
    )
    catalogue.apply(b"event:a", None)
    assert catalogue.events == {}
    assert catalogue.version == 3


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=50)
    | st.sampled_from(["2026-12-05T10:00:00", "2026-12-05T10:00:00+01:00", "x" * 5000, -1]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
FIELDS = sorted(set(EVENT) | {"fields"})


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(FIELDS),
    value=json_values,
    key=st.sampled_from(["event:a", "resource:b", "page:/x", "", "é"]),
)
def test_any_json_in_any_field_is_read_or_left_out(field: str, value: Any, key: str) -> None:
    item = read_item(key, orjson.dumps({**EVENT, field: value}))
    assert item is None or isinstance(item, DojoEvent | Resource)
    if isinstance(item, DojoEvent):
        assert item.capacity >= 0
        assert isinstance(item.title, str)


def test_bytes_that_are_not_json_or_an_object_are_left_out() -> None:
    for raw in (b"\xff\xfe", b"[1,2]", b"", b"null", b'"event"', b"{" * 10_000):
        assert read_item("event:a", raw) is None
    catalogue = Catalogue()
    catalogue.apply(b"\xff\xfeevent", b"\xff")
    catalogue.apply(None, orjson.dumps(EVENT))
    assert catalogue.events == {} and catalogue.resources == {}

"""From raw collector messages to clean batches and dead letters: nothing lost, nothing made up."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.ingest.contract import TYPES, Limits, Rejection, Unjudged, validate_event
from stream.ingest.screen import PAYLOAD_MAX, Faults, Position, assemble, screen
from stream.models import DeadLetter, EventBatch
from tests.unit.test_contract import NOW, VALID_PROPS, event, every_field, put
from tests.unit.test_contract import json_values as any_json

POS = Position("dojo.events.raw", 3, 1234)


def raw(events: list[Any], *, bot: bool = False, **facts: Any) -> bytes:
    envelope = {
        "received_at": NOW,
        "visitor_id": "v" * 32,
        "device": "mobile",
        "bot": bot,
        "site": "dd-coder-dojo",
        "events": events,
        "v": 1,
    }
    envelope.update(facts)
    return orjson.dumps(envelope)


def run(
    value: bytes | None, owned: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    screened = screen(value, POS)
    return assemble(screened, [owned] * len(screened.accepted))


def test_valid_events_are_grouped_by_session() -> None:
    events = [
        event(event_id="evt_a0000001"),
        event(event_id="evt_a0000002", session_id="sess_other1"),
        event("click", event_id="evt_a0000003"),
    ]
    batches, dead = run(raw(events))
    assert dead == []
    assert [(b["session_id"], len(b["events"])) for b in batches] == [
        ("sess_0000001", 2),
        ("sess_other1", 1),
    ]
    assert all(b["visitor_id"] == "v" * 32 and b["device"] == "mobile" for b in batches)
    for batch in batches:  # what travels must read back as the documented record
        assert EventBatch.from_data(batch).session_id == batch["session_id"]


def test_invalid_events_go_to_dead_letters_with_position_and_index() -> None:
    events = [event(), event(event_id="bad"), 17, event(type="purchase", event_id="evt_b0000009")]
    batches, dead = run(raw(events))
    assert sum(len(b["events"]) for b in batches) == 1
    assert [(d["reason"], d["field"], d["index"]) for d in dead] == [
        ("schema", "event_id", 1),
        ("malformed", "", 2),
        ("type", "type", 3),
    ]
    letter = DeadLetter.from_data(dead[0])
    assert {d["device"] for d in dead} == {"mobile"}  # the request's, as the envelope says
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "dojo.events.raw",
        3,
        1234,
    )
    assert orjson.loads(letter.payload)["event_id"] == "bad"


def test_duplicates_within_a_request_and_across_requests() -> None:
    events = [event(), event()]
    batches, dead = run(raw(events))
    assert len(batches[0]["events"]) == 1
    assert [(d["reason"], d["index"]) for d in dead] == [("duplicate", 1)]
    batches, dead = run(raw([event()]), owned=False)
    assert batches == []
    assert [(d["reason"], d["field"]) for d in dead] == [("duplicate", "event_id")]


def test_bot_requests_are_dead_lettered_whole() -> None:
    batches, dead = run(raw([event(), event(event_id="evt_c0000002")], bot=True))
    assert batches == []
    assert [d["reason"] for d in dead] == ["bot", "bot"]


def test_unreadable_messages_become_one_dead_letter() -> None:
    for value in (b"not json", b"", None, b"[1,2]", raw([event()], visitor_id=5), raw("x")):  # type: ignore[arg-type]
        batches, dead = run(value)
        assert batches == []
        assert len(dead) == 1
        assert dead[0]["reason"] == "malformed"
        assert dead[0]["index"] == -1


def test_payload_is_cut_to_a_bound_and_marked() -> None:
    huge = event(props={"title": "x" * 500}, extra="y" * 6000)
    _, dead = run(raw([huge]))
    assert len(dead[0]["payload"]) == PAYLOAD_MAX
    assert dead[0]["truncated"] is True


def test_oversized_event_is_a_size_rejection() -> None:
    # Each field is within its own limit; only multi-byte text makes the whole too large.
    monster = event(
        event_id="evt_big00001", url="/" + "é" * 2040, referrer="https://r.example/" + "ü" * 2020
    )
    batches, dead = run(raw([event(), monster]))
    assert sum(len(b["events"]) for b in batches) == 1
    assert [(d["reason"], d["index"]) for d in dead] == [("size", 1)]


def test_pii_is_scrubbed_before_anything_travels() -> None:
    batches, _ = run(
        raw([event(url="/contact?email=kid@example.com", referrer="https://m.example/?token=t")])
    )
    clean = batches[0]["events"][0]
    assert clean["url"].startswith("/contact")
    assert "kid@example.com" not in clean["url"]
    assert "kid@example.com" not in orjson.dumps(batches).decode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
near_events = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(["evt_00000001", "evt_00000002", "x", 5]),
        "type": st.sampled_from(["page_view", "click", "scroll", "nope", 1]),
        "ts": st.sampled_from([NOW, NOW - 10**9, NOW + 10**9, "now"]),
        "session_id": st.sampled_from(["sess_0000001", "sess_0000002", ""]),
        "url": st.sampled_from(["/", "/events?a=1", "", "x", "/" + "a" * 3000]),
    },
    optional={"props": json_values, "referrer": json_values, "junk": json_values},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(near_events | json_values, max_size=12), st.booleans(), st.booleans())
def test_every_event_ends_in_exactly_one_output(items: list[Any], bot: bool, owned: bool) -> None:
    batches, dead = run(raw(items, bot=bot), owned=owned)
    assert sum(len(b["events"]) for b in batches) + len(dead) == len(items)
    assert sorted(d["index"] for d in dead if d["index"] >= 0) == sorted(
        set(d["index"] for d in dead)
    )
    for letter in dead:
        DeadLetter.from_data(letter)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_arbitrary_bytes_never_raise(value: bytes) -> None:
    batches, dead = run(value)
    assert batches == []
    assert [d["reason"] for d in dead] == ["malformed"]


def test_poison_pills_are_dead_letters_not_crashes() -> None:
    # Each of these stopped the worker for good: an unhashable value in a choice check.
    pills = [
        event("web_vital", event_id="evt_p0000001", props={"name": [], "value": 1}),
        event("web_vital", event_id="evt_p0000002", props={"name": {"LCP": 1}, "value": 1}),
        event(
            "form_field", event_id="evt_p0000003", props={**VALID_PROPS["form_field"], "action": []}
        ),
        event(
            "form_field", event_id="evt_p0000004", props={**VALID_PROPS["form_field"], "action": {}}
        ),
    ]
    batches, dead = run(raw([*pills, event()]))
    assert sum(len(b["events"]) for b in batches) == 1
    assert [(d["reason"], d["field"], d["index"]) for d in dead] == [
        ("schema", "props.name", 0),
        ("schema", "props.name", 1),
        ("schema", "props.action", 2),
        ("schema", "props.action", 3),
    ]


class Boom(Exception):
    """Raised by a validator standing in for a check with a bug."""


def test_a_check_that_raises_makes_an_invalid_dead_letter(caplog: pytest.LogCaptureFixture) -> None:
    faults = Faults()

    def buggy(item: Any, received_at: int, limits: Limits) -> dict[str, Any] | Rejection:
        if isinstance(item, dict) and item.get("type") == "click":
            raise Boom(f"cannot judge {item['url']}")  # a message quoting the event
        if isinstance(item, dict) and item.get("type") == "scroll":
            raise Unjudged("props.depth") from KeyError("kid@example.com")
        return validate_event(item, received_at, limits)

    private = "/kids?name=Ada-Lovelace-Private"
    events = [
        event("click", event_id="evt_k0000001", url=private),
        event(event_id="evt_k0000002"),
        event("click", event_id="evt_k0000003", url=private),
        event("scroll", event_id="evt_k0000004"),
    ]
    with caplog.at_level(logging.WARNING, logger="stream.ingest.screen"):
        screened = screen(raw(events), POS, faults=faults, validate=buggy)
        batches, dead = assemble(screened, [True] * len(screened.accepted))
    assert [e["event_id"] for b in batches for e in b["events"]] == ["evt_k0000002"]
    assert [(d["reason"], d["field"], d["index"]) for d in dead] == [
        ("invalid", "", 0),
        ("invalid", "", 2),
        ("invalid", "props.depth", 3),
    ]
    assert "Boom" in dead[0]["detail"] and "KeyError" in dead[2]["detail"]
    for letter in dead:
        DeadLetter.from_data(letter)
    assert faults.counts == {"Boom": 2, "KeyError": 1}
    # One line per exception type, naming it and where it was raised, never the event.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "Boom" in warnings[0] and "test_ingest.py" in warnings[0]
    assert "KeyError" in warnings[1]
    assert not any(word in caplog.text for word in ("Ada-Lovelace", "kid@example.com", "/kids"))


def test_events_too_deep_to_encode_are_dead_letters() -> None:
    # orjson reads 1024 levels but writes only 255.
    small = {"received_at": NOW, "visitor_id": "v" * 32, "device": "mobile", "bot": False}
    value = orjson.dumps(small)[:-1] + b',"events":[' + b"[" * 1000 + b'"x"' + b"]" * 1001 + b"}"
    batches, dead = run(value)
    assert batches == []
    assert [(d["reason"], d["index"]) for d in dead] == [("malformed", 0)]
    padded = value[:-1] + b',"pad":"' + b"p" * 9000 + b'"}'  # big enough for the size check
    batches, dead = run(padded)
    assert [(d["reason"], d["index"]) for d in dead] == [("size", 0)]
    for letter in dead:
        assert orjson.dumps(letter)


@st.composite
def hostile_events(draw: st.DrawFn) -> Any:
    """A valid event of any type with up to three fields (top level or props) set to any JSON."""
    kind = draw(st.sampled_from(sorted(TYPES)))
    item = event(kind, event_id=f"evt_{draw(st.integers(0, 5)):08d}")
    fields = draw(st.lists(st.sampled_from(every_field(kind)), max_size=3, unique=True))
    for field in sorted(fields, key=lambda f: "." not in f):
        item = put(item, field, draw(any_json))
    return item


@settings(max_examples=400, deadline=None)
@given(st.lists(hostile_events() | any_json, max_size=8), st.booleans())
def test_any_json_in_any_field_of_any_type_ends_in_one_output(items: list[Any], big: bool) -> None:
    faults = Faults()
    # A message over 8 KiB also runs the per-event size check.
    value = raw(items, pad="p" * 9000) if big else raw(items)
    screened = screen(value, POS, faults=faults)
    batches, dead = assemble(screened, [True] * len(screened.accepted))
    assert sum(len(b["events"]) for b in batches) + len(dead) == len(items)
    assert faults.counts == {}  # every value was judged by a check, none raised
    for batch in batches:
        EventBatch.from_data(batch)
        assert orjson.loads(orjson.dumps(batch)) == batch
    for letter in dead:
        DeadLetter.from_data(letter)
        assert letter["reason"] != "invalid"

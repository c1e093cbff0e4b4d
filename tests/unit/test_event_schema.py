"""The JSON Schema of the event contract stays in step with the contract's code.

The contract's own property-based events (tests/unit/test_contract.py) run through both:
every event the contract accepts is valid under the schema, and every one it refuses for a
reason JSON Schema can express (schema, type, size, malformed) is invalid under it. Then the
collector serves the schema with CORS, a strong ETag and revalidation.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from collector.app import create_app
from stream.ingest.contract import (
    CHECK_SCHEMAS,
    MAX_NAME,
    MAX_URL,
    PROPS,
    TYPES,
    Limits,
    Rejection,
    validate_event,
)
from stream.ingest.schema import event_schema, request_schema
from stream.settings import Settings
from tests.collector.conftest import MemorySink
from tests.unit.test_contract import NOW, VALID_PROPS, event, every_field, json_values, put

# What JSON Schema can judge: the time window needs the server's clock, which it lacks.
STRUCTURAL = {"schema", "type", "size", "malformed"}
EVENT = Draft202012Validator(event_schema())
REQUEST = Draft202012Validator(request_schema(max_events=3))


def valid(item: Any) -> bool:
    return EVENT.is_valid(item)


def integral_floats(item: Any) -> bool:
    """Whether ``item`` holds a float like 5.0, an integer to JSON Schema, not to the contract."""
    if isinstance(item, float):
        return math.isfinite(item) and item.is_integer()
    if isinstance(item, dict):
        return any(integral_floats(v) for v in item.values())
    if isinstance(item, list):
        return any(integral_floats(v) for v in item)
    return False


def test_the_schemas_are_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(event_schema())
    Draft202012Validator.check_schema(request_schema(100))


def test_every_check_of_the_contract_is_described() -> None:
    checks = {check for required, optional in PROPS.values() for check in (*required.values(), *optional.values())}  # fmt: skip
    assert checks <= CHECK_SCHEMAS.keys()
    per_type = {rule["if"]["properties"]["type"]["const"] for rule in event_schema()["allOf"]}
    assert per_type == TYPES == set(event_schema()["properties"]["type"]["enum"])


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_each_types_example_is_valid_and_its_props_are_exact(kind: str) -> None:
    assert valid(event(kind))
    bad = event(kind)
    bad["props"]["value_typed"] = "x"
    assert not valid(bad)
    for missing in PROPS[kind][0]:
        short = event(kind)
        del short["props"][missing]
        assert not valid(short), missing


@pytest.mark.parametrize(
    ("item", "ok"),
    [
        (event(url="/" + "a" * (MAX_URL - 1)), True),
        (event(url="/" + "a" * MAX_URL), False),
        (event(url="https://dojo.example/x"), True),
        (event(url="javascript:alert(1)"), False),
        (event(url=""), False),
        (event(referrer=None), True),
        (event(referrer=""), True),
        (event(referrer=5), False),
        (event(event_id="abcdefgh\n"), False),  # Python's $ would let this through
        (event(event_id="a" * 64), True),
        (event(event_id="a" * 65), False),
        (event(event_id="evt 00001"), False),
        (event(ts=True), False),
        (event(ts=NOW + 0.5), False),
        (event("registration", props={"dojo_event_id": "d" * MAX_NAME, "tickets": 20}), True),
        (event("registration", props={"dojo_event_id": "d" * (MAX_NAME + 1), "tickets": 1}), False),
        (event("registration", props={"dojo_event_id": "d", "tickets": 21}), False),
        (event("click", props={**VALID_PROPS["click"], "x": 1.0000001}), False),
        (event("web_vital", props={"name": "FID", "value": 1}), False),
        ({k: v for k, v in event().items() if k != "props"}, True),
        ({k: v for k, v in event("scroll").items() if k != "props"}, False),
        (event(props=None), False),
        ([event()], False),
    ],
)
def test_edges_agree_with_the_contract(item: Any, ok: bool) -> None:
    assert valid(item) is ok
    assert isinstance(validate_event(item, NOW), dict) is ok


@pytest.mark.parametrize("kind", sorted(TYPES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_contract_and_schema_agree_on_any_json_in_any_field(kind: str, data: st.DataObject) -> None:
    fields = st.lists(st.sampled_from(every_field(kind)), min_size=0, max_size=3, unique=True)
    item = event(kind)
    for field in sorted(data.draw(fields, label="fields"), key=lambda f: "." not in f):
        item = put(item, field, data.draw(json_values, label=field))
    # The time window is the one rule the schema leaves to the server: judge it far away.
    verdict = validate_event(item, NOW, Limits(max_age_ms=2**70, max_skew_ms=2**70))
    if not isinstance(verdict, Rejection):
        assert valid(item), item
    elif verdict.reason in STRUCTURAL and not integral_floats(item):
        assert not valid(item), (verdict, item)


def test_an_integral_float_is_the_one_difference_and_it_is_described() -> None:
    # JSON Schema's integer includes 5.0; the contract refuses it (orjson reads it as a float).
    item = event(ts=float(NOW))
    assert valid(item)
    assert isinstance(validate_event(item, NOW), Rejection)
    assert "without a fraction" in event_schema()["properties"]["ts"]["description"]


def test_a_request_is_one_event_or_a_bounded_list_of_them() -> None:
    assert REQUEST.is_valid(event())
    assert REQUEST.is_valid({"events": [event(), event("scroll")]})
    for body in (
        {"events": []},
        {"events": [event()] * 4},
        {"events": [event(), 12]},
        {"events": event()},
        [event()],
        "events",
        None,
    ):
        assert not REQUEST.is_valid(body), body


def test_descriptions_quote_the_clock_limits() -> None:
    described = event_schema(Limits(max_age_ms=6 * 3_600_000, max_skew_ms=120_000))
    text = described["properties"]["ts"]["description"]
    assert "6 h" in text
    assert "2 min" in text


# -- GET /schema/events.json on the collector -----------------------------------------------

SITE = "https://dojo.example"  # the shared settings fixture's site origin


@pytest.fixture
def client(settings: Settings) -> Any:
    app = create_app(dataclasses.replace(settings, max_events=7), sink=MemorySink())
    with TestClient(app) as test_client:
        yield test_client


def test_the_collector_serves_the_schema_it_builds(client: TestClient) -> None:
    reply = client.get("/schema/events.json", headers={"origin": SITE})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/schema+json")
    assert reply.headers["access-control-allow-origin"] == SITE
    assert reply.headers["cache-control"] == "public, max-age=300"
    etag = reply.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    served = orjson.loads(reply.content)
    assert served == orjson.loads(orjson.dumps(request_schema(7)))
    Draft202012Validator.check_schema(served)
    assert Draft202012Validator(served).is_valid({"events": [event()] * 7})
    assert not Draft202012Validator(served).is_valid({"events": [event()] * 8})


def test_a_foreign_page_may_fetch_it_but_its_browser_may_not_read_it(client: TestClient) -> None:
    reply = client.get("/schema/events.json", headers={"origin": "https://evil.example"})
    assert reply.status_code == 200
    assert "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize("header", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_matching_if_none_match_gets_304(client: TestClient, header: str) -> None:
    etag = client.get("/schema/events.json").headers["etag"]
    reply = client.get("/schema/events.json", headers={"if-none-match": header.format(etag=etag)})
    assert reply.status_code == 304
    assert reply.content == b""
    assert reply.headers["etag"] == etag


@pytest.mark.parametrize(
    "header",
    ['"stale"', "", ",,,", '"' + "a" * 10_000 + '"', "W/", "\u00e9t\u00e9".encode(), b"\xff\xfe"],
)
def test_any_other_if_none_match_gets_the_body(client: TestClient, header: str | bytes) -> None:
    reply = client.get("/schema/events.json", headers={"if-none-match": header})
    assert reply.status_code == 200
    assert orjson.loads(reply.content)["$defs"]["event"]["required"]


def test_only_get_and_head_are_served(client: TestClient) -> None:
    assert client.head("/schema/events.json").status_code == 200
    assert client.post("/schema/events.json", content=b"{}").status_code == 405

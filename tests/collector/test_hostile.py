"""POST /collect under hostile bodies and headers: 202, 400, 413 or 415, never a 500."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from collector.app import create_app
from collector.envelope import MAX_DEPTH
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, IPHONE_UA, Clock, MemorySink, event


def post(client: TestClient, body: bytes, content_type: str = "application/json") -> Any:
    return client.post("/collect", content=body, headers={"content-type": content_type})


def nested(depth: int) -> bytes:
    """One event whose ``props`` holds arrays so that the whole body is ``depth`` levels deep."""
    inner = depth - 3  # {"events": [{"props": ...}]} is three levels before the arrays
    doc = orjson.dumps({"events": [{**event(0), "props": "HOLE"}]})
    return doc.replace(b'"HOLE"', b"[" * inner + b"]" * inner)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1000, 5000])
def test_deep_nesting_is_refused_before_anything_is_produced(
    client: TestClient, sink: MemorySink, depth: int
) -> None:
    # 300 was a 500: orjson reads 1024 levels and writes 255.
    response = post(client, nested(depth))
    assert response.status_code == 400
    assert response.json()["error"] == "too_deep"
    assert str(MAX_DEPTH) in response.json()["detail"]
    assert sink.messages == []


def test_nesting_up_to_the_limit_is_accepted(client: TestClient, sink: MemorySink) -> None:
    response = post(client, nested(MAX_DEPTH))
    assert response.status_code == 202
    assert orjson.loads(sink.messages[0][1])["events"][0]["url"] == event(0)["url"]


def test_deep_nesting_anywhere_counts(client: TestClient, sink: MemorySink) -> None:
    deep_key = {"events": [event(0)], "junk": orjson.loads(b"[" * 40 + b"]" * 40)}
    assert post(client, orjson.dumps(deep_key)).status_code == 400
    lone = b'{"a":' * 40 + b"1" + b"}" * 40  # a single event object, no "events"
    assert post(client, lone).json()["error"] == "too_deep"
    assert sink.messages == []


UNREADABLE = [
    b"",
    b"   ",
    b"\xff\xfe{}",
    b'{"events": [{"url": "\xed\xa0\x80"}]}',  # a surrogate encoded as UTF-8 bytes
    b'{"events": [{"url": "\\ud800"}]}',  # a lone surrogate escape
    b'{"events": [{"url": "\\udc00\\ud800"}]}',
    b"NaN",
    b'{"events": [{"ts": NaN}]}',
    b'{"events": [{"ts": Infinity}]}',
    b'{"events": [{"ts": -Infinity}]}',
    b'{"events": [{"ts": 1e400}]}',
    b"\xef\xbb\xbf" + orjson.dumps({"events": [event(0)]}),  # a byte order mark
    orjson.dumps({"events": [event(0)]}).decode().encode("utf-16"),
    orjson.dumps({"events": [event(0)]}) + b"garbage",
    b'{"events": [' + b"\x00" * 10,
    b"{'events': []}",
    bytes(range(256)),
]


@pytest.mark.parametrize("body", UNREADABLE)
@pytest.mark.parametrize("content_type", ["application/json", "text/plain;charset=UTF-8"])
def test_unreadable_bodies_are_400(
    client: TestClient, sink: MemorySink, body: bytes, content_type: str
) -> None:
    response = post(client, body, content_type)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_json"
    assert sink.messages == []


@pytest.mark.parametrize(
    "number", [b"18446744073709551615", b"18446744073709551616", b"-9223372036854775809", b"1e308"]
)
def test_numbers_past_64_bits_are_read_and_written_again(
    client: TestClient, sink: MemorySink, number: bytes
) -> None:
    # orjson reads integers past 64 bits as floats; what it reads it can write, so Kafka
    # gets the request and the contract, not the collector, refuses the odd "ts".
    body = orjson.dumps({"events": [event(0)]}).replace(b'"ts":1700000000000', b'"ts":' + number)
    response = post(client, body)
    assert response.status_code == 202
    assert orjson.loads(sink.messages[0][1])["events"][0]["ts"] == orjson.loads(number)


def test_duplicate_keys_keep_the_last(client: TestClient, sink: MemorySink) -> None:
    body = b'{"events": [{"type": "click", "type": "page_view"}], "events": [{"a": 1}]}'
    assert post(client, body).status_code == 202
    assert orjson.loads(sink.messages[0][1])["events"] == [{"a": 1}]


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "text/html",
        "image/png",
        ";",
        "json",
        "application/json" + "x" * 5000,
    ],
)
def test_wrong_content_types_are_415(
    client: TestClient, sink: MemorySink, content_type: str
) -> None:
    body = orjson.dumps({"events": [event(0)]})
    response = client.post("/collect", content=body, headers={"content-type": content_type})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert sink.messages == []


@pytest.mark.parametrize(
    "declared", [b"\xb2", b"\xb9\xb2", "١٢".encode(), b"-1", b"0x10", b"1e3", b"", b" ", b"9" * 30]
)
def test_odd_content_lengths_are_refused(
    client: TestClient, sink: MemorySink, declared: bytes
) -> None:
    # Header bytes are read as latin-1: b"\xb2" is "²", which str.isdigit() calls a digit
    # and int() refuses.
    headers = [(b"content-type", b"application/json"), (b"content-length", declared)]
    response = client.post("/collect", content=b"{}", headers=headers)
    assert response.status_code in (400, 413)
    assert sink.messages == []


@pytest.fixture
def roomy(collector_settings: Settings) -> Settings:
    """Settings whose rate limit a few hundred requests cannot reach."""
    return dataclasses.replace(collector_settings, rate_limit_per_minute=1_000_000)


@pytest.fixture
def roomy_client(roomy: Settings) -> Iterator[tuple[TestClient, MemorySink]]:
    sink = MemorySink()
    app = create_app(roomy, sink=sink, clock=Clock(1_931_256_000.0))
    with TestClient(app, client=(CLIENT_IP, 50123), headers={"user-agent": IPHONE_UA}) as c:
        yield c, sink


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=30,
)


def as_text(value: Any) -> bytes:
    """JSON text as a careless client writes it: NaN, huge integers and all."""
    return json.dumps(value).encode()


HOSTILE = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HOSTILE
@given(
    body=st.binary(max_size=300)
    | json_values.map(as_text)
    | st.builds(lambda v: as_text({"events": v}), st.lists(json_values, max_size=5))
    | st.integers(1, 80).map(lambda n: b'{"events":[' + b"[" * n + b"]" * n + b"]}"),
    content_type=st.sampled_from(["application/json", "text/plain", "text/plain;charset=latin-1"]),
)
def test_no_body_makes_a_500(
    roomy_client: tuple[TestClient, MemorySink], body: bytes, content_type: str
) -> None:
    client, sink = roomy_client
    before = len(sink.messages)
    response = post(client, body, content_type)
    assert response.status_code in (202, 400, 413), response.text
    assert "error" in response.json() or response.status_code == 202
    if response.status_code == 202:
        events = orjson.loads(sink.messages[-1][1])["events"]
        assert len(events) == response.json()["accepted"]
    else:
        assert len(sink.messages) == before

"""Origin enforcement: other sites' pages can neither write beacons nor read the site API."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import orjson
import pytest
from starlette.datastructures import Headers
from starlette.testclient import TestClient

from collector.app import create_app
from collector.origins import from_site, normalise, request_origin
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, NOON, Clock, MemorySink, event

SITE = "https://dojo.example"  # from the shared `settings` fixture
BEACON = {"content-type": "text/plain"}  # what sendBeacon sends: never preflighted


def post(client: TestClient, headers: dict[str, str]) -> int:
    body = b'{"events": [' + orjson.dumps(event(0)) + b"]}"
    return client.post("/collect", content=body, headers={**BEACON, **headers}).status_code


def test_a_text_plain_post_from_another_origin_is_refused(
    client: TestClient, sink: MemorySink
) -> None:
    reply = client.post(
        "/collect",
        content=b'{"type": "page_view", "url": "/resources/<img src=x onerror=alert(1)>"}',
        headers={**BEACON, "origin": "https://evil.example"},
    )
    assert reply.status_code == 403
    assert reply.json()["error"] == "origin"
    assert "access-control-allow-origin" not in reply.headers
    assert sink.messages == []


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",  # sandboxed frames and data: URLs
        "https://dojo.example.evil.example",
        "https://evil.example/https://dojo.example",
        "http://dojo.example",  # another scheme is another origin
        "https://dojo.example:8443",
        "",
        "https://",
        "javascript:alert(1)",
        "https://dojo.example\x00",
        "https://[::1",  # unparseable
        "https://dojo.example:99999",
    ],
)
def test_every_other_origin_is_refused(client: TestClient, origin: str) -> None:
    assert post(client, {"origin": origin}) == 403


@pytest.mark.parametrize("origin", [SITE, "https://DOJO.example", "https://dojo.example:443"])
def test_the_site_origin_is_accepted_however_spelled(client: TestClient, origin: str) -> None:
    assert post(client, {"origin": origin}) == 202


def test_referer_decides_when_there_is_no_origin(client: TestClient) -> None:
    assert post(client, {"referer": SITE + "/events/spring?x=1"}) == 202
    assert post(client, {"referer": "https://evil.example/page"}) == 403
    # Origin wins over Referer: a foreign page cannot borrow the site's Referer.
    assert post(client, {"origin": "https://evil.example", "referer": SITE + "/"}) == 403


def test_two_origin_headers_are_refused() -> None:
    headers = Headers(raw=[(b"origin", SITE.encode()), (b"origin", b"https://evil.example")])
    assert request_origin(headers) == ""
    assert not from_site(headers, (SITE,), "accept")


@pytest.fixture
def originless(
    request: pytest.FixtureRequest, collector_settings: Settings
) -> Iterator[TestClient]:
    settings = dataclasses.replace(collector_settings, originless=request.param)
    app = create_app(settings, sink=MemorySink(), clock=Clock(NOON))
    with TestClient(app, client=(CLIENT_IP, 40000)) as client:
        yield client


@pytest.mark.parametrize(
    ("originless", "status"), [("accept", 202), ("refuse", 403)], indirect=["originless"]
)
def test_requests_with_neither_header_follow_the_policy(
    originless: TestClient, status: int
) -> None:
    assert post(originless, {}) == status
    assert post(originless, {"referer": "   "}) == status  # an empty Referer is none
    assert post(originless, {"origin": SITE}) == 202


def test_the_default_accepts_requests_with_neither_header() -> None:
    assert Settings().originless == "accept"


def test_the_site_api_refuses_other_origins(client: TestClient) -> None:
    for path in ("/api/recommendations", "/api/personalize"):
        reply = client.get(path, headers={"origin": "https://evil.example"})
        assert reply.status_code == 403
        assert reply.json()["error"] == "origin"
        assert client.get(path, headers={"origin": SITE}).status_code == 200
        assert client.get(path, headers={"referer": "https://evil.example/x"}).status_code == 403


def test_refusals_are_counted_on_metrics(client: TestClient) -> None:
    post(client, {"origin": "https://evil.example"})
    post(client, {"origin": "https://evil.example"})
    client.get("/api/personalize", headers={"origin": "https://evil.example"})
    post(client, {"origin": SITE})
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'dojo_collector_requests_refused_total{reason="origin",route="collect"} 2.0' in text
    assert 'dojo_collector_requests_refused_total{reason="origin",route="api"} 1.0' in text
    assert "dojo_collector_requests_accepted_total 1.0" in text
    assert "dojo_collector_events_accepted_total 1.0" in text
    assert "evil" not in text and CLIENT_IP not in text


def test_normalise() -> None:
    assert normalise("https://Dojo.Example:443/") == "https://dojo.example"
    assert normalise("http://127.0.0.1:8000/x?y#z") == "http://127.0.0.1:8000"
    assert normalise("http://[::1]:80") == "http://[::1]"
    assert normalise("ftp://dojo.example") is None
    assert normalise("dojo.example") is None

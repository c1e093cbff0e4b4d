"""CORS: only the site's own origins may post from a browser."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.collector.conftest import event

ALLOWED = "https://dojo.example"  # from the shared `settings` fixture
DENIED = "https://evil.example"


def test_allowed_origin_gets_the_header(client: TestClient) -> None:
    response = client.post("/collect", json={"events": [event(0)]}, headers={"origin": ALLOWED})
    assert response.status_code == 202
    assert response.headers["access-control-allow-origin"] == ALLOWED


def test_disallowed_origin_gets_no_header(client: TestClient) -> None:
    response = client.post("/collect", json={"events": [event(0)]}, headers={"origin": DENIED})
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code == 403  # and refused: CORS alone would not stop it


def test_errors_carry_the_header_so_the_beacon_can_read_them(client: TestClient) -> None:
    response = client.post(
        "/collect", content=b"{", headers={"origin": ALLOWED, "content-type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == ALLOWED


def preflight(client: TestClient, origin: str) -> object:
    return client.options(
        "/collect",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )


def test_preflight_from_allowed_origin(client: TestClient) -> None:
    response = preflight(client, ALLOWED)
    assert response.status_code == 200  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in headers["access-control-allow-methods"]
    assert "content-type" in headers["access-control-allow-headers"].lower()


def test_preflight_from_disallowed_origin(client: TestClient) -> None:
    response = preflight(client, DENIED)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "access-control-allow-origin" not in response.headers  # type: ignore[attr-defined]

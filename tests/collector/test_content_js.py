"""content.js is served like beacon.js: same type and caching, the file as written."""

from __future__ import annotations

from starlette.testclient import TestClient

from collector.app import CONTENT_JS


def test_content_js_is_served_like_the_beacon(client: TestClient) -> None:
    script, beacon = client.get("/content.js"), client.get("/beacon.js")
    assert script.status_code == 200
    assert script.content == CONTENT_JS.read_bytes()
    for header in ("content-type", "cache-control"):
        assert script.headers[header] == beacon.headers[header]
    assert script.headers["etag"] != beacon.headers["etag"]
    assert "window.dojoContent" in script.text
    assert "innerHTML" not in script.text.replace("element.innerHTML = body.body", "")


def test_content_js_answers_only_get(client: TestClient) -> None:
    assert client.post("/content.js", content=b"x").status_code == 405

"""A site of the tests' own for content.js (static pages, a content API the test answers),
and the product's apps served for a browser test.

Requests to ``/api/content/...`` wait at a gate until the test opens it, so a test can look
at a page while content.js is still waiting for its answer (the reserved space), then let
the answer through and look again.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.types import ASGIApp

from infra.process import free_port

GATE_TIMEOUT_S = 30.0


@dataclass
class ContentSite:
    """The site's server: its pages, the API answers it gives, and what was asked."""

    url: str
    root: Path
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)

    def page(self, name: str, body: str, head: str = "") -> str:
        """Write a page and return its address."""
        # An empty icon: no favicon.ico request ends in a 404 in the console.
        html = f'<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><link rel="icon" href="data:,">{head}</head>'
        (self.root / name).write_text(f"{html}<body>{body}</body></html>", encoding="utf-8")
        return f"{self.url}/{name}"

    def answer(self, path: str, body: Any, status: int = 200) -> None:
        """Answer GET ``path`` with ``body`` as JSON (bytes as they are).

        A ``path`` with a query answers that query only; without, any query."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        self.answers[path] = (status, raw)


@contextmanager
def serve_site(root: Path) -> Iterator[ContentSite]:
    """Serve ``root`` and the test's API answers on a port of their own until the block ends."""
    site = ContentSite("", root)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

        def do_GET(self) -> None:  # the name http.server calls
            path = self.path.split("?", 1)[0]
            if not path.startswith("/api/content/"):
                super().do_GET()
                return
            site.asked.append(self.path)
            site.gate.wait(GATE_TIMEOUT_S)
            missing = site.answers.get(path, (404, b'{"error": "not found"}'))
            status, raw = site.answers.get(self.path, missing)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(Handler, directory=str(root))
    )
    site.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.gate.set()  # no request left waiting
        server.shutdown()
        server.server_close()


@contextmanager
def serve_app(app: ASGIApp, **options: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)  # polling the server's own flag
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

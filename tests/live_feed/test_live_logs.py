"""The live feed as a real process: no token, query string or client address in its log bytes."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from stream.logs import Anonymous, anonymise
from stream.settings import Settings
from tests.live_feed.conftest import free_port

CLIENT_ADDRESS = "127.0.0.2"  # a loopback address of its own, to be searched for
QUERY_SECRET = "querysecret-5e1f0c"


@pytest.fixture
def feed_process(
    settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, Path, Callable[[], None]]]:
    """``dojo-pulse live`` as operators run it, its stdout and stderr into one file."""
    own = replace(settings, live_port=free_port())
    log = tmp_path / "live.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dojo_pulse.cli", "live"],
            env={**os.environ, **own.to_env()},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{own.live_port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the live feed did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)  # polling the process's start, with a deadline

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    try:
        yield url, log, stop
    finally:
        stop()


def from_own_address(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), source_address=(CLIENT_ADDRESS, 0))
    assert sock.getsockname()[0] == CLIENT_ADDRESS
    return sock


def test_no_token_query_or_client_address_reaches_the_log(
    feed_process: tuple[str, Path, Callable[[], None]], token: str
) -> None:
    url, log, stop = feed_process
    port = int(url.rsplit(":", 1)[1])
    ws_url = url.replace("http://", "ws://")
    # A client that puts the token in the URL (the feed ignores it: it is refused).
    with connect(
        f"{ws_url}/ws/live?token={token}&q={QUERY_SECRET}", sock=from_own_address(port)
    ) as ws:
        ws.send('{"subscribe": ["traffic"]}')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    # A client that does it right, and one that guesses.
    with connect(f"{ws_url}/ws/live?from={QUERY_SECRET}", sock=from_own_address(port)) as ws:
        ws.send(f'{{"token": "{token}"}}')
        ws.send('{"subscribe": ["traffic"]}')
        assert '"snapshot"' in str(ws.recv(timeout=10))
    with connect(f"{ws_url}/ws/live", sock=from_own_address(port)) as ws:
        ws.send('{"token": "guess-' + QUERY_SECRET + '"}')
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    with httpx.Client(transport=transport, base_url=url, timeout=10) as http:
        assert http.get(f"/api/snapshot/traffic?token={token}").status_code == 401
        assert http.post("/login", data={"token": QUERY_SECRET}).status_code in (200, 303)
        assert http.post("/login", data={"token": token}).status_code in (200, 303)
        assert http.get(f"/?token={token}").status_code == 200
        assert http.get(f"/no-such-page?{QUERY_SECRET}").status_code == 404

    stop()  # every line written, the shutdown's too
    written = log.read_bytes()
    assert b"WebSocket /ws/live" in written, written  # the feed did log the connections
    assert token.encode() not in written
    assert QUERY_SECRET.encode() not in written
    assert CLIENT_ADDRESS.encode() not in written
    assert b"?" not in written.replace(b"(Press CTRL+C to quit)", b"")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '203.0.113.9:51234 - "WebSocket /ws/live?token=abc" [accepted]',
            '- - "WebSocket /ws/live" [accepted]',
        ),
        ('::1:5555 - "WebSocket /ws/live?token=abc&x=1" 403', '- - "WebSocket /ws/live" 403'),
        ('[2001:db8::7]:443 - "GET /p?child_name=Ann HTTP/1.1" 200', '- - "GET /p HTTP/1.1" 200'),
        ("peer 10.1.2.3 went away", "peer - went away"),
        ("Uvicorn running on http://127.0.0.1:8100 (Press CTRL+C to quit)", None),
        ("Started server process [4242]", None),
        ("Error 15: nothing personal", None),
    ],
)
def test_anonymise_takes_out_addresses_and_queries_only(line: str, expected: str | None) -> None:
    assert anonymise(line) == (line if expected is None else expected)


def test_the_filter_rewrites_records_with_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("198.51.100.4:6000", "/ws/live?token=t0k3n"), None,
    )  # fmt: skip
    record.__dict__["color_message"] = record.msg
    assert Anonymous().filter(record)
    assert record.getMessage() == '- - "WebSocket /ws/live" [accepted]'
    assert "color_message" not in record.__dict__

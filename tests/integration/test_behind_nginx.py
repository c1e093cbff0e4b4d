"""Behind a real nginx, clients stay apart: their own visitor ids and their own rate limits.

nginx (Debian's package) runs as a child of the test with its own configuration, pid and
logs, and passes ``X-Forwarded-For: $proxy_add_x_forwarded_for`` to a real collector that
trusts only 127.0.0.1. Clients are told apart by their source address: the loopback
range is the test's, so they bind to 127.0.0.2, 127.0.0.3, ...
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from stream.settings import Settings
from tests.conftest import free_port
from tests.integration.conftest import Proc, healthy, read_topic, wait_for

pytestmark = pytest.mark.integration

NGINX = Path("/usr/sbin/nginx")
LIMIT = 5
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

CONF = """
daemon off;
master_process on;
worker_processes 1;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def proxied_settings(stack_settings: Settings) -> Settings:
    return replace(stack_settings, trusted_proxies=("127.0.0.1",), rate_limit_per_minute=LIMIT)


@pytest.fixture
def collector(proxied_settings: Settings, start: Callable[..., Proc]) -> str:
    """A collector that trusts 127.0.0.1 (where nginx connects from)."""
    proc = start(["collector"], proxied_settings)
    url = f"http://127.0.0.1:{proxied_settings.collector_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not proc.alive(), 30, "the collector")
    assert proc.alive(), proc.output()
    return url


@pytest.fixture
def nginx(tmp_path: Path, proxied_settings: Settings, collector: str) -> Iterator[str]:
    """A real nginx in front of the collector; its URL."""
    if not NGINX.exists():
        pytest.fail("nginx is not installed; run `make system` (Debian package nginx)")
    root = tmp_path / "nginx"
    root.mkdir()
    port = free_port()
    conf = root / "nginx.conf"
    # As root, nginx would drop its workers to `nobody`, who cannot use the test's dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(
        CONF.format(root=root, port=port, upstream=proxied_settings.collector_port, user=user)
    )
    proc = subprocess.Popen(
        [str(NGINX), "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: listening(port) or proc.poll() is not None, 20, "nginx to listen")
        if proc.poll() is not None:
            pytest.fail(f"nginx exited: {(root / 'error.log').read_text(errors='replace')}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post(url: str, source: str, n: int, *, agent: str = BROWSER, xff: str | None = None) -> int:
    """POST one event numbered ``n`` to ``url``/collect from the address ``source``."""
    headers = {"user-agent": agent}
    if xff is not None:
        headers["x-forwarded-for"] = xff
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        event = {
            "event_id": f"evt_nginx_{n:06d}",
            "type": "page_view",
            "ts": int(time.time() * 1000),
            "session_id": f"sess_nginx_{n:06d}",
            "url": "/events/spring",
            "props": {"title": "Spring dojo"},
        }
        return client.post(f"{url}/collect", json={"events": [event]}, headers=headers).status_code


def visitors_by_event(settings: Settings, count: int) -> dict[str, str]:
    batches: list[Any] = asyncio.run(
        read_topic(settings, settings.topic_raw, lambda values: len(values) >= count, 60)
    )
    return {b["events"][0]["event_id"]: b["visitor_id"] for b in batches}


def test_clients_behind_nginx_are_distinct_visitors(nginx: str, proxied_settings: Settings) -> None:
    sent = [
        post(nginx, "127.0.0.2", 1),
        post(nginx, "127.0.0.3", 2),
        # The same client claiming to be someone else: nginx appends the real address.
        post(nginx, "127.0.0.2", 3, xff="203.0.113.50"),
        post(nginx, "127.0.0.4", 4, xff="127.0.0.1, 127.0.0.3"),
    ]
    assert sent == [202] * 4
    ids = visitors_by_event(proxied_settings, 4)
    assert len(ids) == 4
    one, two, spoofing, spoofing_a_proxy = (ids[f"evt_nginx_{n:06d}"] for n in range(1, 5))
    assert one != two
    assert spoofing == one
    assert spoofing_a_proxy not in (one, two)


def test_clients_behind_nginx_have_their_own_rate_limits(nginx: str) -> None:
    # The limit is per minute window: start early in one, so the burst cannot straddle two.
    wait_for(lambda: time.time() % 60 < 40, 25, "the start of a minute window")
    first = [post(nginx, "127.0.0.5", 100 + i, agent=f"{BROWSER} r{i}") for i in range(LIMIT + 2)]
    second = post(nginx, "127.0.0.6", 200)
    spoofed = post(nginx, "127.0.0.5", 201, xff="198.51.100.77")
    assert first == [202] * LIMIT + [429, 429]  # a new User-Agent per request does not help
    assert second == 202
    assert spoofed == 429  # nor does a forged X-Forwarded-For


def test_the_collector_ignores_forwarded_for_from_untrusted_peers(
    collector: str, proxied_settings: Settings
) -> None:
    # Straight to the collector from 127.0.0.7 (not a trusted proxy): its header is ignored.
    statuses = [post(collector, "127.0.0.7", 300 + i, xff=f"198.51.100.{i}") for i in range(3)]
    assert statuses == [202] * 3
    ids = visitors_by_event(proxied_settings, 3)
    assert len(set(ids.values())) == 1

"""Shared fixtures: a private Redis for the fast tiers, settings pointing at it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.process import free_port
from stream.settings import Secret, Settings

# A shell without job control starts background jobs with SIGINT ignored, and an ignored signal
# stays ignored across exec: every child the tests start could then not be stopped with Ctrl-C.
# A handled signal is reset to its default at exec, so handling it here gives children the
# disposition an interactive run gives them, however the suite was started.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

TEST_TOKEN = "test-admin-token-0123456789"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real, private ``redis-server`` for this test session (fails loudly if missing)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run `make test`, which installs it")
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: private Redis, a known admin token, a temporary data dir."""
    return Settings(
        redis_url=redis_url,
        admin_token=Secret(TEST_TOKEN),
        site_origins=("https://dojo.example",),
        data_dir=tmp_path / "data",
    )

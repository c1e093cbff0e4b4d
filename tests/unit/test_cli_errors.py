"""A command that cannot go on says why in one line and exits non-zero, with no traceback.

Each test runs the real command as a child process against closed ports: no Kafka, Redis
or live feed is needed to fail.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from stream.settings import Settings
from stream.topics import LIVE_CHANNELS
from tests.conftest import free_port

DEADLINE_S = 60.0


def environment(settings: Settings, **raw: str) -> dict[str, str]:
    """The child's environment: ``settings``, then raw values ``Settings`` would refuse."""
    return {**os.environ, **settings.to_env(), **raw}


def run(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """Exit code and non-empty output lines (stdout and stderr) of ``dojo-pulse args``."""
    done = subprocess.run(
        [sys.executable, "-m", "dojo_pulse.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,  # the exit code is what is tested
        timeout=DEADLINE_S,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, [line for line in (done.stdout + done.stderr).splitlines() if line]


@pytest.fixture
def base(tmp_path: Path) -> Settings:
    """Settings whose Kafka, Redis and ports answer nothing."""
    return replace(
        Settings(),
        kafka=f"127.0.0.1:{free_port()}",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        data_dir=tmp_path / "data",
        topic_prefix="clierrors",
        collector_port=free_port(),
        live_port=free_port(),
        worker_web_port=free_port(),
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


@pytest.mark.parametrize("port", ["99999", "0", "-1", "70000"])
def test_a_port_out_of_range_is_refused_at_once(base: Settings, port: str) -> None:
    code, lines = run(["collector"], environment(base, DOJO_COLLECTOR_PORT=port))
    assert code == 1
    assert lines == [f"Error: DOJO_COLLECTOR_PORT must be a port from 1 to 65535, got {port}"]


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        ("collector", "DOJO_COLLECTOR_PORT"),
        ("live", "DOJO_LIVE_PORT"),
        ("worker", "DOJO_WORKER_WEB_PORT"),
    ],
)
def test_a_port_in_use_is_one_line(
    base: Settings, taken_port: int, command: str, variable: str
) -> None:
    code, lines = run([command], environment(base, **{variable: str(taken_port)}))
    assert code == 1
    assert lines == [f"Error: port {taken_port} is in use: set {variable}"]


def test_a_host_that_cannot_be_bound_names_both_settings(base: Settings) -> None:
    code, lines = run(["live"], environment(base, DOJO_LIVE_HOST="no-such-host.invalid"))
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("Error: cannot listen on no-such-host.invalid:")
    assert lines[0].endswith("set DOJO_LIVE_HOST or DOJO_LIVE_PORT")


@pytest.mark.parametrize(
    "agents", ["learn_onlin", "validate,bogus", "all;traffic", "../x", "Traffic", ","]
)
def test_an_unknown_agent_stops_the_worker_naming_the_choices(base: Settings, agents: str) -> None:
    code, lines = run(["worker"], environment(base, DOJO_AGENTS=agents))
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("Error: DOJO_AGENTS: ")
    assert "learn_online" in lines[0] and "count_traffic" in lines[0]
    assert "Traceback" not in lines[0]


def test_the_worker_says_once_that_it_waits_for_kafka_then_gives_up(base: Settings) -> None:
    began = time.monotonic()
    code, lines = run(["worker", "--kafka-wait", "3"], environment(base))
    assert code == 1
    assert time.monotonic() - began < 40  # gave up near its deadline, not after 120 s
    assert len(lines) == 2, lines
    assert lines[0].endswith(f"waiting for Kafka at {base.kafka} (up to 3 s)")
    assert lines[1] == (
        f"Error: Kafka at {base.kafka} did not answer for 3 s: "
        "start it (dojo-pulse infra up) or set DOJO_KAFKA"
    )


@pytest.mark.parametrize(
    "channel", ["nonsense", "TRAFFIC", "traffic ", "../traffic", "\x1b[31mred", "x" * 5000]
)
def test_tail_of_an_unknown_channel_names_the_channels(base: Settings, channel: str) -> None:
    code, lines = run(["tail", channel], environment(base))
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("Error: no channel ")
    assert lines[0].endswith("choose from " + ", ".join(LIVE_CHANNELS))
    assert "\x1b" not in lines[0] and len(lines[0]) < 300  # shown escaped and cut


def test_tail_says_once_that_the_feed_is_down_and_keeps_trying(base: Settings) -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws/live"
    child = subprocess.Popen(
        [sys.executable, "-m", "dojo_pulse.cli", "tail", "traffic", "--url", url],
        env=environment(base),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stderr is not None
        ready, _, _ = select.select([child.stderr], [], [], DEADLINE_S)
        assert ready, "tail said nothing about the feed being down"
        first = child.stderr.readline()
        # Several retries later (0.5 + 1 + 2 s of backoff) it is still trying, and silent.
        end = time.monotonic() + 4.0
        while time.monotonic() < end and child.poll() is None:
            time.sleep(0.1)  # a fixed observation window: what must NOT happen in it
        assert child.poll() is None
    finally:
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=DEADLINE_S)
    assert first.strip() == (
        f"cannot reach the live feed at {url} (nothing listens there): retrying until it answers"
    )
    assert out == "" and err == ""


def test_tail_accepts_exactly_the_channels_the_panel_shows() -> None:
    panel = (Path(__file__).resolve().parents[2] / "live_feed" / "static" / "panel.js").read_text()
    render = panel.split("const RENDER = {", 1)[1].split("};", 1)[0]
    shown = re.findall(r"^\s+(\w+):", render, flags=re.MULTILINE)
    assert sorted(shown) == sorted(LIVE_CHANNELS)

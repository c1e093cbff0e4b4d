"""Failures that need the real Kafka or Redis to happen: one line, non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from stream.settings import Secret, Settings
from tests.conftest import free_port
from tests.integration.conftest import Proc, healthy, wait_for

DEADLINE_S = 90.0


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


@pytest.mark.parametrize("partitions", [1, 3])
def test_a_worker_whose_partitions_differ_from_the_topics_stops_saying_what_to_do(
    stack_settings: Settings, start: Callable[..., Proc], partitions: int
) -> None:
    # stack_settings created the topics with 2 partitions; this worker is told otherwise.
    worker = start(["worker"], replace(stack_settings, partitions=partitions))
    wait_for(lambda: not worker.alive(), DEADLINE_S, "the worker to stop")
    assert worker.proc is not None
    assert worker.proc.returncode != 0
    lines = lines_of(worker.output())
    assert lines == [
        f"Error: {stack_settings.topic_raw} has 2 partitions but DOJO_PARTITIONS={partitions}: "
        "set DOJO_PARTITIONS=2 or recreate the topics"
    ]


def test_tail_with_a_wrong_token_is_one_line_and_exit_1(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    live = start(["live"], stack_settings)
    url = f"http://{stack_settings.live_host}:{stack_settings.live_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not live.alive(), 60, "the live feed")
    assert live.alive(), live.output()
    # A hostile token: long, with characters a header would choke on if sent unquoted.
    wrong = replace(stack_settings, admin_token=Secret("wrong-" + "x" * 300))
    done = subprocess.run(
        [sys.executable, "-m", "dojo_pulse.cli", "tail", "traffic"],
        env={**os.environ, **wrong.to_env()},
        capture_output=True,
        text=True,
        check=False,  # the exit code is what is tested
        timeout=DEADLINE_S,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert lines_of(done.stderr) == [
        f"Error: the live feed at ws://{stack_settings.live_host}:{stack_settings.live_port}"
        "/ws/live refused the admin token: set DOJO_ADMIN_TOKEN to its token"
    ]
    assert "xxxx" not in done.stderr  # the token is never echoed


def test_live_with_redis_down_says_so_once_and_answers_503(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    # A password in the URL must not reach the log line that names Redis.
    redis_port = free_port()
    down = replace(stack_settings, redis_url=f"redis://:hunter2-pw@127.0.0.1:{redis_port}/0")
    live = start(["live"], down)
    url = f"http://{down.live_host}:{down.live_port}"

    def answers_503() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 503
        except httpx.HTTPError:
            return not live.alive()

    wait_for(answers_503, 60, "the live feed to answer 503")
    assert live.alive(), live.output()
    live.stop()
    output = live.output()
    notices = [line for line in lines_of(output) if " WARNING " in line or " ERROR " in line]
    assert len(notices) == 1, output
    assert notices[0].endswith(
        f"Redis at 127.0.0.1:{redis_port} is not reachable (ConnectionError): answering 503 "
        "until it is; start it (dojo-pulse infra up) or set DOJO_REDIS_URL"
    )
    assert "Traceback" not in output
    assert "hunter2" not in output

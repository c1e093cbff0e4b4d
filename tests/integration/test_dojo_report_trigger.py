"""A capacity notice on dojo.alerts triggers a report that arrives at a real SMTP server;
other alerts and a second notice for the same event on the same day do not."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from email import message_from_bytes, policy
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from dojo_pulse.reports.watch import trigger
from infra.process import free_port
from stream.settings import Settings
from tests.store.test_dojo_report import Inbox

pytestmark = pytest.mark.integration

NOTICE = {"kind": "capacity", "minute": 0, "metric": "fill event:scratch-2026-12-05", "value": 0.83,
          "expected": 0.8, "ratio": 1.04, "reason": "Saturday's Scratch Game Jam is 83 % full "
          "(25 of 30 places)", "score": 0.83}  # fmt: skip


async def send_alerts(settings: Settings, alerts: list[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all")
    await producer.start()
    try:
        for alert in alerts:
            body = alert if isinstance(alert, bytes) else orjson.dumps(alert)
            await producer.send_and_wait(settings.topic("alerts"), body, key=b"capacity")
    finally:
        await producer.stop()


def test_a_capacity_notice_sends_a_report(stack_settings: Settings) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        spike = {**NOTICE, "kind": "spike", "metric": "sessions", "reason": "sessions 6x"}
        asyncio.run(send_alerts(stack_settings, [b"\xff not json", spike, NOTICE, NOTICE,
                                                 {**NOTICE, "metric": "fill event:b"}]))  # fmt: skip
        url = f"smtp://127.0.0.1:{controller.port}/?to=lead@dojo.example"
        env = {**os.environ, **stack_settings.to_env(), "DOJO_SMTP_URL": url}
        argv = [sys.executable, "-m", "dojo_pulse.cli", "report", "weekly", "--on-alerts",
                "--max-reports", "2"]  # fmt: skip
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
    finally:
        controller.stop()
    subjects = [
        message_from_bytes(raw, policy=policy.default)["Subject"] for *_, raw in inbox.messages
    ]
    assert len(subjects) == 2  # the spike of sessions and the repeated notice sent nothing
    assert subjects[0].endswith(": Saturday's Scratch Game Jam is 83 % full (25 of 30 places)")
    assert all(s.startswith("Dojo Pulse weekly report") for s in subjects)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@given(field=st.sampled_from(sorted(NOTICE)), value=json_values)
def test_any_alert_is_judged_never_raises(field: str, value: Any) -> None:
    reason = trigger({**NOTICE, field: value})
    assert reason is None or (isinstance(reason, str) and len(reason) <= 200)
    assert trigger(value) is None or isinstance(value, dict)

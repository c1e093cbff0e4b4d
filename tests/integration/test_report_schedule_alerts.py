"""``report-schedule`` with ``alerts`` in DOJO_REPORTS: a capacity notice on dojo.alerts sends a
daily report to a real SMTP server, once per alert metric and day, from the same process that
sends the scheduled ones."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from infra.process import free_port
from stream.settings import Settings
from tests.integration.conftest import wait_for
from tests.integration.test_dojo_report_trigger import NOTICE, send_alerts
from tests.store.test_dojo_report import Inbox

pytestmark = pytest.mark.integration


def test_threshold_reports_come_from_the_scheduler_once_each(stack_settings: Settings) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    other = {**NOTICE, "metric": "fill event:b", "reason": "Sunday's Robots is 90 % full"}
    asyncio.run(send_alerts(stack_settings, [NOTICE, b"[]", NOTICE, other]))
    url = f"smtp://127.0.0.1:{controller.port}/?to=lead@dojo.example"
    env = {**os.environ, **stack_settings.to_env(), "DOJO_SMTP_URL": url,
           "DOJO_REPORTS": "alerts"}  # fmt: skip
    argv = [sys.executable, "-m", "dojo_pulse.cli", "report-schedule", "--tick-s", "0.5"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        # In order: the repeated notice is skipped before the other one is reported.
        wait_for(lambda: len(inbox.messages) >= 2 or proc.poll() is not None, 90, "two reports")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        controller.stop()
    assert len(inbox.messages) == 2, err
    subjects = [message_from_bytes(raw, policy=policy.default)["Subject"]
                for *_, raw in inbox.messages]  # fmt: skip
    assert subjects[0].startswith("Dojo Pulse daily report") and subjects[0].endswith(
        ": " + str(NOTICE["reason"])
    )
    assert subjects[1].endswith(": Sunday's Robots is 90 % full")
    assert url not in out + err

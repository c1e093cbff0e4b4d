"""Scheduled reports end to end: ``dojo-pulse report-schedule`` sends what is due to a real
SMTP server, once, and a restart sends nothing again (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from dojo_pulse.reports.schedule import ledger, read_sent
from live_feed.reports import listing
from stream.settings import Settings
from tests.store.test_dojo_report import figures, fill, smtp  # noqa: F401 (fixture)


def schedule(env: dict[str, str], ticks: int) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "dojo_pulse.cli", "report-schedule", "--ticks", str(ticks),
            "--tick-s", "0.1"]  # fmt: skip
    return subprocess.run(argv, env=env, check=False, capture_output=True, text=True, timeout=180)


def test_due_reports_are_sent_once_and_not_again_after_a_restart(
    store: sa.Engine,
    store_settings: Settings,
    smtp: Any,  # noqa: F811
) -> None:
    controller, inbox = smtp
    fill(store)
    url = f"smtp://127.0.0.1:{controller.port}/?to=lead@dojo.example&from=pulse@dojo.example"
    env = {**os.environ, **store_settings.to_env(), "DOJO_SMTP_URL": url,
           "DOJO_REPORTS": "daily,weekly", "DOJO_REPORTS_HOUR": "0",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    first = schedule(env, 2)  # the second tick finds nothing due
    assert first.returncode == 0, first.stderr
    assert url not in first.stdout + first.stderr
    subjects = []
    for _, recipients, raw in inbox.messages:
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage) and recipients == ["lead@dojo.example"]
        subjects.append(msg["Subject"])
        if "daily" in msg["Subject"]:
            got = figures(msg)  # yesterday's figures, as `dojo-pulse report daily` has them
            assert got["places booked"] == "24" and got["page views"] == "600"
    assert sorted(s.split(" report")[0] for s in subjects) == [
        "Dojo Pulse daily",
        "Dojo Pulse weekly",
    ]
    assert set(read_sent(ledger(store_settings))) == {"daily", "weekly"}
    again = schedule(env, 1)
    assert again.returncode == 0, again.stderr
    assert len(inbox.messages) == 2
    assert sorted(str(r["period"]) for r in listing(store_settings.data_dir)) == [
        "daily",
        "weekly",
    ]


def test_a_report_that_cannot_be_sent_is_kept_and_tried_again_later(
    store: sa.Engine, store_settings: Settings
) -> None:
    from infra.process import free_port

    url = f"smtp://127.0.0.1:{free_port()}/?to=lead@dojo.example"
    env = {**os.environ, **store_settings.to_env(), "DOJO_SMTP_URL": url,
           "DOJO_REPORTS": "daily", "DOJO_REPORTS_HOUR": "0"}  # fmt: skip
    done = schedule(env, 2)
    assert done.returncode == 0, done.stderr
    assert "the daily report failed: the report was not sent via 127.0.0.1:" in done.stderr
    assert done.stderr.count("the daily report failed") == 1  # not retried at once
    assert read_sent(ledger(store_settings)) == {}  # so the next run tries again
    assert [r["period"] for r in listing(store_settings.data_dir)] == ["daily"]

"""The report email end to end: figures from a real store (SQLite and PostgreSQL), rendered,
sent by ``dojo-pulse report`` to a real SMTP server the test starts, parsed and checked."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from dojo_pulse.reports import archive, mail
from dojo_pulse.reports.figures import Figure, Report, gather
from dojo_pulse.reports.render import render
from infra.process import free_port
from stream.settings import Secret, Settings
from stream.sketches.tally import Tally
from stream.store.history import DAY_MS, MinuteRow, write_minutes

NOW = time.time_ns() // 1_000_000
TODAY = NOW - NOW % DAY_MS
YESTERDAY, BEFORE = TODAY - DAY_MS, TODAY - 2 * DAY_MS


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def fill(engine: sa.Engine) -> None:
    """Yesterday and the day before, in two partitions, hour by hour."""
    rows = []
    for day, scale in ((YESTERDAY, 2), (BEFORE, 1)):
        for hour in (9, 10, 17):
            start = day + hour * 3_600_000
            for part in (0, 1):
                dojo = {"registrations": 1 * scale, "tickets": 2 * scale, "cancelled": part,
                        "arrived": 3, "walk_ins": part, "views": 5 * scale, "downloads": scale,
                        "tickets.event:scratch": 2 * scale}  # fmt: skip
                rows.append(
                    MinuteRow("dojo", start, part, Tally({k: float(v) for k, v in dojo.items()}))
                )
                rows.append(MinuteRow("traffic", start, part, Tally({"views": 50.0 * scale})))
                rows.append(
                    MinuteRow(
                        "funnels",
                        start,
                        part,
                        Tally({"registration.0": 10.0, "registration.4": 3.0}),
                    )
                )
    write_minutes(engine, rows, now_ms=NOW)


def figures(msg: EmailMessage) -> dict[str, str]:
    """``label -> value`` from the HTML part's figure rows."""
    import re

    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return dict(
        re.findall(r'<tr data-figure="([^"]+)"><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td>', html)
    )


def test_the_report_arrives_with_the_right_numbers(
    store: sa.Engine, store_settings: Settings, smtp: Any, tmp_path: Path
) -> None:
    controller, inbox = smtp
    fill(store)
    url = f"smtp://127.0.0.1:{controller.port}/?to=lead@dojo.example,mentors@dojo.example&from=pulse@dojo.example"
    env = {**os.environ, **store_settings.to_env(), "DOJO_SMTP_URL": url,
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "dojo_pulse.cli", "report", "daily"], env=env, check=False,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sent to 2 recipient(s)" in done.stdout
    assert url not in done.stdout + done.stderr  # the URL is a secret
    [(sender, recipients, raw)] = inbox.messages
    assert (sender, recipients) == (
        "pulse@dojo.example",
        ["lead@dojo.example", "mentors@dojo.example"],
    )
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"].startswith("Dojo Pulse daily report, ")
    got = figures(msg)
    # Yesterday: 3 hours x 2 partitions; the day before half as many of most things.
    assert got["places booked"] == "24" and got["registrations"] == "12"
    assert got["page views"] == "600" and got["walk-ins"] == "3"
    assert got["booked children who came"] == "18" and got["downloads"] == "12"
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "+100 %" in html and "<svg" in html and "registration" in html
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "places booked: 24 (previous 12, +100 %)" in text
    attachments = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    assert set(attachments) == {"traffic.csv", "dojo.csv", "vitals.csv", "funnels.csv"}
    rows = list(csv.DictReader(io.StringIO(attachments["dojo.csv"])))
    assert len(rows) == 3 and sum(float(r["tickets"]) for r in rows) == 24
    assert sum(float(r["tickets.event:scratch"]) for r in rows) == 24
    kept = archive.listing(store_settings.data_dir)
    assert [r["period"] for r in kept] == ["daily"]
    saved = (archive.directory(store_settings.data_dir) / str(kept[0]["name"])).read_bytes()
    again = message_from_bytes(saved, policy=policy.default)
    assert isinstance(again, EmailMessage)
    assert again["Message-ID"] == msg["Message-ID"] and figures(again) == got


def test_without_a_server_the_report_is_kept_and_the_error_is_one_line(
    store: sa.Engine, store_settings: Settings
) -> None:
    url = f"smtps://user:hunter2@127.0.0.1:{free_port()}/?to=lead@dojo.example"
    env = {**os.environ, **store_settings.to_env(), "DOJO_SMTP_URL": url}
    done = subprocess.run([sys.executable, "-m", "dojo_pulse.cli", "report", "weekly"], env=env, check=False,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().startswith("Error: the report was not sent via 127.0.0.1:")
    assert "hunter2" not in done.stdout + done.stderr
    assert [r["period"] for r in archive.listing(store_settings.data_dir)] == ["weekly"]


def test_a_threshold_report_says_why_and_an_empty_store_reports_nothing(store: sa.Engine) -> None:
    made = gather(store, "weekly", NOW, reason="Saturday's Scratch is 80 % full")
    subject, text, html = render(made)
    assert subject.endswith(": Saturday's Scratch is 80 % full")
    assert "Sent because Saturday&#39;s Scratch is 80 % full" in html
    assert "Nothing stored for this period" in html
    assert "page views: — (previous —, —)" in text


@pytest.mark.parametrize(
    "url",
    ["", "http://mail.example", "smtp://", "smtp://mail.example", "smtp://mail.example/?to=nobody",
     "smtp://mail.example:99999/?to=a@b.org", "smtps://[::1/?to=a@b.org"],
)  # fmt: skip
def test_unusable_smtp_urls_are_refused_in_one_line(url: str) -> None:
    with pytest.raises((mail.MailError, ValueError)) as refused:
        mail.target(url)
    assert "\n" not in str(refused.value)


def test_names_from_the_site_are_escaped_in_the_html() -> None:
    hostile = '<script>alert("x")</script>'
    report = Report("daily", TODAY, TODAY + DAY_MS, [Figure("Traffic", "page views", 5, 0, None, "count")],
                    {"chart": [(TODAY, 1.0)]}, [(hostile, 3, 1)], reason=hostile)  # fmt: skip
    _, _, html = render(report)
    assert hostile not in html and "&lt;script&gt;" in html
    assert Settings(smtp_url=Secret("smtps://u:p@h/?to=a@b")).smtp_url.reveal().startswith("smtps")

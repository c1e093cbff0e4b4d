"""The report as a MIME message, and sending it through ``DOJO_SMTP_URL``.

``smtp://[user:password@]host[:port]/?to=a@x.org,b@y.org&from=pulse@x.org`` sends in the
clear (port 25; STARTTLS with ``&starttls=1``), ``smtps://`` over TLS from the first byte
(port 465). The URL is a secret (it may hold a password): it is never printed or logged,
and errors name the host at most.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from dojo_pulse.reports.figures import Report
from dojo_pulse.reports.render import render


class MailError(RuntimeError):
    """The report could not be sent (or the SMTP URL cannot be read); says why in a line."""


@dataclass(frozen=True)
class Target:
    """Where and how to send: from the SMTP URL."""

    host: str
    port: int
    tls: bool
    starttls: bool
    user: str
    password: str
    to: tuple[str, ...]
    sender: str


def target(url: str) -> Target:
    """Read ``DOJO_SMTP_URL``; ``MailError`` when it is not a usable smtp(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError("DOJO_SMTP_URL must be smtp://host or smtps://host (with ?to=...)")
    query = parse_qs(parts.query)
    to = tuple(a.strip() for v in query.get("to", []) for a in v.split(",") if "@" in a)
    if not to:
        raise MailError("DOJO_SMTP_URL names no recipient: add ?to=someone@example.org")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise MailError("DOJO_SMTP_URL has a port that is not a number from 1 to 65535") from None
    return Target(
        parts.hostname, port, parts.scheme == "smtps", query.get("starttls", ["0"])[0] == "1",
        unquote(parts.username or ""), unquote(parts.password or ""), to,
        query.get("from", [f"dojo-pulse@{parts.hostname}"])[0],
    )  # fmt: skip


def message(report: Report, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """The email: text and HTML alternatives, and one CSV attachment per channel."""
    subject, text, html = render(report)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(report.end / 1000 if not report.reason else None, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for name, body in sorted(report.csv.items()):
        msg.add_attachment(body, maintype="text", subtype="csv", filename=name)
    return msg


def send(where: Target, msg: EmailMessage, timeout_s: float = 30.0) -> None:
    """Hand ``msg`` to the SMTP server; ``MailError`` with one line when it cannot."""
    context = ssl.create_default_context()
    try:
        if where.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(where.host, where.port, timeout=timeout_s,
                                                    context=context)  # fmt: skip
        else:
            client = smtplib.SMTP(where.host, where.port, timeout=timeout_s)
        with client:
            if where.starttls:
                client.starttls(context=context)
            if where.user:
                client.login(where.user, where.password)
            client.send_message(msg, from_addr=where.sender, to_addrs=list(where.to))
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the report was not sent via {where.host}:{where.port}: "
                        f"{type(exc).__name__}") from exc  # fmt: skip

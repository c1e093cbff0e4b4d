"""``dojo-pulse report``: make a daily, weekly or monthly report, keep it, and send it."""

from __future__ import annotations

import time

import click

from stream.settings import Settings, SettingsError


@click.command("report")
@click.argument("period", type=click.Choice(["daily", "weekly", "monthly"]))
@click.option("--reason", default="", help="Why it is sent now (a threshold), shown in the mail.")
@click.option(
    "--send/--no-send",
    default=True,
    show_default=True,
    help="Send through DOJO_SMTP_URL (when set); the report is kept either way.",
)
@click.option(
    "--on-alerts",
    is_flag=True,
    help="Keep running: a report for each capacity notice, traffic spike or vitals regression.",
)
@click.option("--max-reports", type=int, default=None, hidden=True)  # tests: stop after N
def report(period: str, reason: str, send: bool, on_alerts: bool, max_reports: int | None) -> None:
    """Report PERIOD (the last whole UTC day, 7 or 30 days) against the period before.

    The email (key figures, charts, CSV attachments) is kept under
    <DOJO_DATA_DIR>/reports and sent to the recipients of DOJO_SMTP_URL. Run it from cron
    (e.g. daily at 06:00 UTC) for reports that arrive by themselves, and once with
    --on-alerts for reports that thresholds trigger.
    """
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if not on_alerts:
        make(settings, period, reason, send)
        return
    import asyncio

    from dojo_pulse.reports.watch import watch

    asyncio.run(watch(settings, lambda why: make(settings, period, why, send), limit=max_reports))


def make(
    settings: Settings, period: str, reason: str, send: bool, *, now_ms: int | None = None
) -> None:
    """Gather, keep and (with ``send``) mail one report; ``ClickException`` on a failure.

    ``now_ms`` (default: now) picks the period: the whole days before its day.
    """
    from dojo_pulse.reports import archive, mail
    from dojo_pulse.reports.figures import gather
    from stream.store import StoreError, open_store

    try:
        engine = open_store(settings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        when = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        made = gather(engine, period, when, reason[:200])
    finally:
        engine.dispose()
    url = settings.smtp_url.reveal()
    try:
        where = mail.target(url) if url else None
    except mail.MailError as exc:
        raise click.ClickException(str(exc)) from None
    sender, to = (where.sender, where.to) if where else ("dojo-pulse@localhost", ())
    msg = mail.message(made, sender, to)
    path = archive.keep(settings.data_dir, made, msg)
    click.echo(f"kept {path}")
    if send and where is not None:
        try:
            mail.send(where, msg)
        except mail.MailError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"sent to {len(where.to)} recipient(s) via {where.host}")
    elif send:
        click.echo("not sent: DOJO_SMTP_URL is not set")

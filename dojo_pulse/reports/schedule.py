"""Reports that arrive by themselves: ``DOJO_REPORTS`` periods when due, threshold ones too.

``dojo-pulse run`` starts ``dojo-pulse report-schedule`` as a child. A daily report is due at
``DOJO_REPORTS_HOUR`` UTC every day, a weekly one on Mondays and a monthly one on the 1st,
each covering the whole days before that day. The due moment of each period last sent is
kept in ``<DOJO_DATA_DIR>/reports/schedule.json`` and written only after the report was sent,
so neither a second tick nor a restart sends it twice, and a scheduler that was down sends
the latest one it missed when it comes back. With ``alerts`` in ``DOJO_REPORTS`` it also
sends a daily report for each threshold alert (``watch``). Decisions are pure functions of
the time passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import orjson

from dojo_pulse.reports.command import make
from live_feed.reports import directory
from stream.settings import Settings, SettingsError

log = logging.getLogger(__name__)

PERIODS = ("daily", "weekly", "monthly")
TICK_S = 60.0
RETRY_AFTER_MS = 600_000  # a report that failed (SMTP down) is tried again this much later
Sent = dict[str, int]  # period -> due moment (epoch ms) of the last report sent


def due_moment(period: str, hour: int, now_ms: int) -> int:
    """The latest moment at or before ``now_ms`` when ``period``'s report fell due."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        day -= timedelta(days=day.weekday())  # Monday
    elif period == "monthly":
        day = day.replace(day=1)
    moment = day + timedelta(hours=hour)
    if moment > now:  # not yet today (this week, month): the one before
        if period == "daily":
            moment -= timedelta(days=1)
        elif period == "weekly":
            moment -= timedelta(days=7)
        else:
            moment = (day - timedelta(days=1)).replace(day=1) + timedelta(hours=hour)
    return int(moment.timestamp() * 1000)


def due(periods: tuple[str, ...], hour: int, now_ms: int, sent: Sent) -> list[tuple[str, int]]:
    """(period, due moment) of each scheduled report not sent yet, in ``PERIODS`` order."""
    out = []
    for period in PERIODS:
        if period in periods:
            moment = due_moment(period, hour, now_ms)
            if sent.get(period, -1) < moment:
                out.append((period, moment))
    return out


def ledger(settings: Settings) -> Path:
    """Where the due moments of the reports sent are kept."""
    return directory(settings.data_dir) / "schedule.json"


def read_sent(path: Path) -> Sent:
    """The ledger; empty when missing or unreadable (then the latest due reports go out)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if k in PERIODS and type(v) is int}


def write_sent(path: Path, sent: Sent) -> None:
    """Replace the ledger in one step (a crash leaves the old or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(sent))
    os.replace(tmp, path)


def _make(settings: Settings, period: str, reason: str, now_ms: int | None) -> bool:
    try:
        make(settings, period, reason, True, now_ms=now_ms)
    except click.ClickException as exc:  # a report must never stop the scheduler
        log.warning("the %s report failed: %s", period, exc.message)
        return False
    return True


async def run_schedule(
    settings: Settings, *, ticks: int | None = None, tick_s: float = TICK_S
) -> None:
    """Send due reports every ``tick_s`` until cancelled (or for ``ticks`` ticks, in tests)."""
    watcher = None
    if "alerts" in settings.reports:
        from dojo_pulse.reports.watch import watch

        def on_alert(why: str) -> None:
            _make(settings, "daily", why, None)

        watcher = asyncio.create_task(watch(settings, on_alert))
    path = ledger(settings)
    sent = read_sent(path)
    failed: dict[str, int] = {}  # period -> when it last failed
    try:
        while ticks is None or ticks > 0:
            now_ms = time.time_ns() // 1_000_000
            for period, moment in due(settings.reports, settings.reports_hour, now_ms, sent):
                if now_ms - failed.get(period, -RETRY_AFTER_MS) < RETRY_AFTER_MS:
                    continue
                if await asyncio.to_thread(_make, settings, period, "", moment):
                    sent[period] = moment
                    write_sent(path, sent)
                else:
                    failed[period] = now_ms
            ticks = None if ticks is None else ticks - 1
            await asyncio.sleep(tick_s if ticks is None or ticks else 0)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


@click.command("report-schedule")
@click.option("--ticks", type=int, default=None, hidden=True)  # tests: stop after N rounds
@click.option("--tick-s", type=float, default=60.0, hidden=True)  # tests: rounds this apart
def report_schedule(ticks: int | None, tick_s: float) -> None:
    """Send the DOJO_REPORTS reports when due (at DOJO_REPORTS_HOUR UTC), each once.

    Daily reports every day, weekly on Mondays, monthly on the 1st; with "alerts" in
    DOJO_REPORTS also a daily report per capacity notice, traffic spike or vitals
    regression. `dojo-pulse run` starts it.
    """
    from stream.logs import log_config

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    logging.config.dictConfig(log_config())
    asyncio.run(run_schedule(settings, ticks=ticks, tick_s=tick_s))

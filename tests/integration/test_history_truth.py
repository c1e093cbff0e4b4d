"""History equals the simulator's truth for a two-day backfill, day by day and as a whole.

Two past days go in through ``simulate --start`` (each batch received at its simulated
time) in three spans: the historian stops after the first day is in, the counting worker
is SIGKILLed after the second span, the historian comes back at the end. Traffic of the
last few minutes then closes the two days' last minutes on every partition (minutes close
on event time, ``stream.sketches.windows``). The store's day rows, read through
``/api/history``, must then hold exactly the simulator's page views per day, per page per
day, form starts, submits and abandons per day, and unique visitors per day: nothing lost
while the historian was away or when the worker died, nothing counted twice by the replays.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dojo_pulse.simulation import generate
from stream.settings import Settings
from tests.integration.conftest import Proc, healthy, wait_for

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
HOUR_S = 3_600
RATE = 0.1  # events per second of simulated time: about 8,600 a day
FORM_COUNTS = (".starts", ".submits", ".abandons")


def test_history_equals_the_truth_of_two_days_across_a_stopped_historian_and_a_killed_worker(
    stack_settings: Settings, start: Callable[..., Proc], tmp_path: Path
) -> None:
    settings = stack_settings
    today = int(time.time() * 1000) // DAY_MS * DAY_MS
    first, second = today - 2 * DAY_MS, today - DAY_MS
    counting = replace(settings, agents=("validate", "traffic", "forms"))
    keeping = replace(settings, agents=("keep_history",))
    live = start(["live"], settings)
    live_url = f"http://{settings.live_host}:{settings.live_port}"
    wait_for(lambda: healthy(f"{live_url}/healthz") or not live.alive(), 60, "the live feed")
    worker, keeper = start(["worker"], counting), start(["worker"], keeping)

    truth: dict[str, Counter[str]] = {}
    visitors: Counter[str] = Counter()  # spans have visitors of their own: days' sets add up
    half = 12 * HOUR_S
    spans = [(first, 2 * half), (second, half), (second + half * 1000, half)]
    for seed, (begin, seconds) in enumerate(spans, start=1):
        told = backfill(settings, begin, seconds, seed=seed, out=tmp_path / f"truth-{seed}.json")
        mine = day_truth(seed, begin, seconds)
        for day, numbers in mine.items():
            truth.setdefault(day, Counter()).update(numbers)
            assert told["by_day"][day]["page_views"] == numbers["views"]  # the CLI's own truth
            visitors[day] += told["by_day"][day]["visitors"]
        if seed == 1:
            wait_for(
                lambda: totals(live_url, settings, "traffic", first, today).get("views", 0) > 0
                or not keeper.alive(),
                120, "the historian's first minutes",
            )  # fmt: skip
            assert keeper.alive(), keeper.output()
            keeper.stop()
        elif seed == 2:
            worker.stop(signal.SIGKILL)
            worker = start(["worker"], counting)
    # Minutes close on event time: today's traffic closes the last ones of both days.
    closing(settings)
    keeper = start(["worker"], keeping)
    views = sum(numbers["views"] for numbers in truth.values())
    assert views > 1000

    wait_for(
        lambda: totals(live_url, settings, "traffic", first, today).get("views") == views
        and totals(live_url, settings, "forms", first, today) == forms_total(truth),
        240, f"the store to hold all {views} page views and every form event",
    )  # fmt: skip
    stored: dict[str, Counter[str]] = {day: Counter() for day in truth}
    for channel in ("traffic", "forms"):
        for row in history(live_url, settings, channel, first, today)["rows"]:
            stored[iso_day(row["start"])].update(exact(row))
    assert stored == truth
    # Unique visitors are exact sets at this size (``stream.sketches.uniques``): exact too.
    days = history(live_url, settings, "traffic", first, today)["rows"]
    assert {iso_day(row["start"]): row["visitors"] for row in days} == visitors
    both = totals(live_url, settings, "traffic", first, today)  # the two days as a whole
    assert (both["views"], both["visitors"]) == (views, sum(visitors.values()))
    assert worker.alive() and keeper.alive(), worker.output() + keeper.output()
    assert "keep_history: this worker keeps the history now" in keeper.output()


def backfill(settings: Settings, begin: int, seconds: int, *, seed: int, out: Path) -> Any:
    """Deliver a past span through ``simulate --start``; its truth file."""
    argv = [sys.executable, "-m", "dojo_pulse.cli", "simulate", "--via", "kafka", "--quiet",
            "--start", iso_time(begin), "--duration", str(seconds), "--rate", str(RATE),
            "--seed", str(seed), "--truth", str(out)]  # fmt: skip
    done = subprocess.run(
        argv, env=settings.to_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return orjson.loads(out.read_bytes())


def closing(settings: Settings) -> None:
    """Four minutes of traffic up to now, on every partition."""
    argv = [sys.executable, "-m", "dojo_pulse.cli", "simulate", "--via", "kafka", "--quiet",
            "--fast", "--duration", "240", "--rate", "5", "--seed", "99"]  # fmt: skip
    done = subprocess.run(
        argv, env=settings.to_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr


def day_truth(seed: int, begin: int, seconds: int) -> dict[str, Counter[str]]:
    """Per UTC day of the event time: views, views per page, form starts, submits, abandons."""
    requests, _ = generate(seed, rate=RATE, duration_s=seconds, start_ms=begin)
    out: dict[str, Counter[str]] = {}
    for request in requests:
        for event, expect in zip(request.body["events"], request.expect, strict=True):
            kind = event["type"]
            if expect:
                continue
            numbers = out.setdefault(iso_day(event["ts"]), Counter())
            if kind == "page_view":
                numbers["views"] += 1
                numbers[f"pages.{event['url']}"] += 1
            elif kind in ("form_start", "form_submit", "form_abandon"):
                numbers[f"{event['props']['form_id']}.{kind.removeprefix('form_')}s"] += 1
    return out


def forms_total(truth: dict[str, Counter[str]]) -> dict[str, int]:
    """The forms channel's total over both days, as the API sums it."""
    total: Counter[str] = Counter()
    for numbers in truth.values():
        total.update({k: n for k, n in numbers.items() if k.endswith(FORM_COUNTS)})
    return dict(total)


def exact(row: dict[str, Any]) -> Counter[str]:
    """A day row's exact counts that the truth also counts (not sketches' estimates)."""
    return Counter(
        {
            name: int(value)
            for name, value in row.items()
            if name == "views" or name.startswith("pages.") or name.endswith(FORM_COUNTS)
        }
    )


def history(url: str, settings: Settings, channel: str, begin: int, end: int) -> Any:
    reply = httpx.get(
        f"{url}/api/history/{channel}",
        params={"from": begin, "to": end, "interval": "day"},
        headers={"Authorization": f"Bearer {settings.admin_token.reveal()}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def totals(url: str, settings: Settings, channel: str, begin: int, end: int) -> dict[str, Any]:
    total = history(url, settings, channel, begin, end)["total"]
    return {k: v for k, v in total.items() if v}


def iso_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def iso_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")

"""A backfill puts the past on Kafka as it would have arrived then, with truth per day."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import orjson

from stream.settings import Settings
from tests.integration.conftest import read_topic

DAY_MS = 86_400_000


def test_backfill_arrives_at_its_simulated_times(stack_settings: Settings, tmp_path: Path) -> None:
    settings = stack_settings
    now = int(time.time() * 1000)
    start = now - now % DAY_MS - DAY_MS - 6 * 3_600_000  # yesterday 18:00 minus a day
    truth_path = tmp_path / "truth.json"
    argv = [
        sys.executable, "-m", "dojo_pulse.cli", "simulate", "--via", "kafka", "--quiet",
        "--start", str(start_iso(start)), "--duration", str(12 * 3600), "--rate", "0.2",
        "--seed", "5", "--truth", str(truth_path),
    ]  # fmt: skip
    done = subprocess.run(
        argv, env=settings.to_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    truth = orjson.loads(truth_path.read_bytes())
    requests = truth["totals"]["requests"] or truth["delivery"]["requests_sent"]

    batches = asyncio.run(
        read_topic(settings, settings.topic_raw, lambda v: len(v) >= requests, deadline_s=60)
    )

    assert len(batches) == requests
    received = [b["received_at"] for b in batches]
    assert start <= min(received) and max(received) <= start + 12 * 3_600_000
    # No event is ahead of the time its batch was received: the validate stage accepts them.
    ahead = [e["ts"] - b["received_at"] for b in batches for e in b["events"]]
    assert max(ahead) <= 0, max(ahead)
    # The run spans midnight: the truth has two days, whose views add up to the whole.
    days = truth["by_day"]
    assert len(days) == 2
    assert sum(d["page_views"] for d in days.values()) == sum(truth["page_views_by_url"].values())
    assert all(0 < d["visitors"] <= d["page_views"] for d in days.values())


def start_iso(ms: int) -> str:
    """``ms`` as an ISO datetime (the CLI reads UTC)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")

"""``dojo-pulse run``: the whole product on one machine, with simulated traffic.

Starts Kafka and Redis (``infra``), creates the topics, then runs the worker, the
collector, the live feed and the simulator as child processes with their logs in
``<data dir>/logs``. Prints where to look and a running count of valid and dead-lettered
events; Ctrl-C stops the children (Kafka and Redis keep running: ``infra down`` stops them).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from dojo_pulse.seed import seed_once
from infra.process import Child
from stream.models.keys import Keys
from stream.settings import Settings
from stream.store import StoreError
from stream.topics import ensure_topics

Echo = Callable[[str], None]


def start_child(name: str, args: list[str], log_dir: Path) -> Child:
    """Start ``dojo-pulse <args>`` as the child ``name``, its output in ``<name>.log``."""
    argv = [sys.executable, "-m", "dojo_pulse.cli", *args]
    return Child.start(name, argv, log_dir / f"{name}.log")


def wait_http(url: str, deadline_s: float, children: list[Child]) -> bool:
    """Poll ``url`` until it answers 200 or the deadline passes (or a child dies)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if not all(child.alive() for child in children):
            return False
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return False


def run_everything(
    settings: Settings, *, rate: float, invalid_ratio: float, echo: Echo, backfill_days: int = 0
) -> int:
    """Start it all, report counts until Ctrl-C, stop the children; returns an exit code."""
    import infra
    from infra.errors import InfraError

    try:
        infra.up_all(settings, echo=echo)
    except InfraError as exc:
        echo(f"error: {exc}")
        return 1
    for spec, state in asyncio.run(ensure_topics(settings)):
        echo(f"topic {spec.name}: {state}")
    try:
        seed_once(settings, echo)  # the site's catalogue, once per deployment
    except StoreError as exc:
        echo(f"error: {exc}")
        return 1
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    children = [
        start_child("worker", ["worker"], log_dir),
        start_child("collector", ["collector"], log_dir),
        start_child("live", ["live"], log_dir),
        start_child("backups", ["backup", "schedule"], log_dir),  # backup, verify, prune
    ]
    if settings.reports:  # daily/weekly/monthly reports when due, threshold ones
        children.append(start_child("reports", ["report-schedule"], log_dir))
    collector_url = f"http://{settings.collector_host}:{settings.collector_port}"
    live_url = f"http://{settings.live_host}:{settings.live_port}"
    traffic: Traffic | None = None
    # SIGTERM (a service manager, `kill`) stops everything the way Ctrl-C does, instead of
    # ending this process and leaving its children running.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name, url in (("collector", collector_url), ("live feed", live_url)):
            if not wait_http(f"{url}/healthz", 60, children):
                return _failed(children, f"the {name} did not become healthy", echo)
        if not backfill(settings, backfill_days, log_dir, children, echo):
            return _failed(children, "the backfill of simulated history failed", echo)
        traffic = Traffic(rate, invalid_ratio, log_dir)
        echo("")
        echo(f"  Live activity panel: {live_url}/")
        token = settings.admin_token.reveal()
        echo(f"  Admin token:         {token}   (set DOJO_ADMIN_TOKEN to change it)")
        echo(f"  Beacon endpoint:     {collector_url}/collect   script: {collector_url}/beacon.js")
        echo(f"  Logs:                {log_dir}")
        echo("  Ctrl-C stops the product; `dojo-pulse infra down` stops Kafka and Redis.")
        echo("")
        return _report(settings, children, traffic, echo)
    except KeyboardInterrupt:
        echo("\nstopping…")
        return 0
    finally:
        stop_together(([traffic.child] if traffic is not None else []) + children[::-1])
        signal.signal(signal.SIGTERM, previous)


def stop_together(children: list[Child], grace_s: float = 12.0) -> None:
    """SIGTERM every child at once, then one shared grace: a slow one costs its own time only."""
    for child in children:
        if child.alive():
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()


BACKFILL_RATE = 0.5  # events a second: a week is ~300,000 events, digested in a minute or so


def backfill(
    settings: Settings, days: int, log_dir: Path, children: list[Child], echo: Echo
) -> bool:
    """Once per deployment, simulate the last ``days`` days so history has something to show.

    It runs before live traffic: each partition's event clock must see the past before the
    present, or the past would arrive late and be counted as such.
    """
    marker = settings.data_dir / f"backfilled-{settings.topic_prefix}"
    if days <= 0 or marker.exists():
        return True
    span = f"{days} day" + ("s" if days != 1 else "")
    echo(f"backfilling {span} of simulated history (once; see {log_dir}/backfill.log) ...")
    duration = days * 86_400 - 600  # ends ten minutes ago, clear of the live traffic
    child = start_child(
        "backfill",
        ["simulate", "--start", f"{days}d", "--duration", str(duration), "--rate",
         str(BACKFILL_RATE), "--via", "kafka", "--seed", "7", "--quiet"],
        log_dir,
    )  # fmt: skip
    while child.alive():
        if not all(c.alive() for c in children):
            child.stop()
            return False
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=0.5)  # returns the moment the backfill exits
    if child.proc.returncode != 0:
        echo(child.tail())
        return False
    marker.write_text("history backfilled by `dojo-pulse run`\n")
    return True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Traffic:
    """Simulated traffic in one-minute rounds, each with a new seed, for as long as we run.

    Rounds keep the simulator's memory small (it plans a round's requests up front).
    """

    ROUND_S = 60

    def __init__(self, rate: float, invalid_ratio: float, log_dir: Path) -> None:
        self.rate, self.invalid_ratio, self.log_dir = rate, invalid_ratio, log_dir
        self.seed = int(time.time())
        self.child = self._start()

    def _start(self) -> Child:
        self.seed += 1
        args = ["simulate", "--rate", str(self.rate), "--duration", str(self.ROUND_S),
                "--seed", str(self.seed), "--invalid-ratio", str(self.invalid_ratio),
                "--quiet", "--experiments"]  # fmt: skip
        return start_child("simulator", args, self.log_dir)

    def keep_going(self) -> bool:
        """Start the next round when one ends well; False if the simulator failed."""
        if self.child.alive():
            return True
        if self.child.proc.returncode != 0:
            return False
        self.child = self._start()
        return True


def _totals(client: redis.Redis, keys: Keys) -> dict[str, int]:
    try:
        raw: dict[bytes, bytes] = client.hgetall(keys.pipeline)  # type: ignore[assignment]
    except redis.RedisError:
        return {}
    return {k.decode(): int(v) for k, v in raw.items()}


def _report(settings: Settings, children: list[Child], traffic: Traffic, echo: Echo) -> int:
    client = redis.Redis.from_url(settings.redis_url)
    # The counters in Redis are cumulative; show what this run added.
    start = _totals(client, Keys.of(settings))
    while True:
        for child in children:
            if not child.alive():
                return _failed(children, f"{child.name} exited", echo)
        if not traffic.keep_going():
            return _failed([*children, traffic.child], "the simulator failed", echo)
        now = _totals(client, Keys.of(settings))
        totals = {name: n - start.get(name, 0) for name, n in now.items()}
        reasons = ", ".join(
            f"{name.removeprefix('reason:')} {n}"
            for name, n in sorted(totals.items())
            if name.startswith("reason:") and n
        )
        echo(
            f"{time.strftime('%H:%M:%S')}  valid events: {totals.get('valid', 0):>8}   "
            f"dead-lettered: {totals.get('dead_lettered', 0):>6}"
            + (f"  ({reasons})" if reasons else "")
        )
        time.sleep(2.0)


def _failed(children: list[Child], why: str, echo: Echo) -> int:
    echo(f"error: {why}")
    for child in children:
        if not child.alive():
            echo(f"--- last lines of {child.log} ---\n{child.tail()}")
    return 1

"""``dojo-pulse run`` against the real thing: it starts its children and stops all of them."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from stream.settings import Settings
from tests.integration.conftest import Proc, wait_for

pytestmark = pytest.mark.integration


def children_of(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from ``/proc``)."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue  # gone meanwhile, or a line without a tab
        if int(fields.get("PPid", "0").strip()) == pid:
            found.add(int(status.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_sigterm_stops_every_child(stack_settings: Settings, start: Callable[..., Proc]) -> None:
    run = start(["run", "--rate", "5", "--backfill-days", "1"], stack_settings)
    assert run.proc is not None
    wait_for(lambda: "Live activity panel" in run.output() or not run.alive(), 240, "the panel")
    assert run.alive(), run.output()
    # History's backfill ran first, once: a second run of this deployment skips it.
    assert "backfilling 1 day of simulated history" in run.output()
    assert (stack_settings.data_dir / f"backfilled-{stack_settings.topic_prefix}").exists()
    children = children_of(run.proc.pid)
    assert len(children) >= 3, run.output()  # worker, collector, live feed (and the traffic)
    # What a service manager or `kill` sends, not Ctrl-C: the children must not be orphaned.
    run.proc.send_signal(signal.SIGTERM)
    # Under 15 s: no child needed the kill that follows 15 s of waiting for it to stop.
    assert run.proc.wait(timeout=15) == 0, run.output()
    wait_for(lambda: not any(running(pid) for pid in children), 30, "every child to exit")
    assert "stopping" in run.output()

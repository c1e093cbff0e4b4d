"""The one process supervisor: spawn with a log, stop with a grace period, then SIGKILL."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from infra.process import Child, free_port

# Prints its environment variable, says when its handler is in place, then waits for ever.
STUBBORN = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("env", os.environ.get("DOJO_PROBE"), "ready", flush=True)
while True:
    time.sleep(1)
"""


def wait_for_line(child: Child, text: str, deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while text not in child.output():
        assert child.alive(), child.output()
        assert time.monotonic() < end, f"no {text!r} in {child.output()!r}"
        time.sleep(0.02)


def test_a_child_that_ignores_sigterm_is_killed_after_its_grace(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "stubborn.log"  # the directory does not exist yet
    log.parent.mkdir()
    log.write_text("an earlier run\n")
    child = Child.start("stubborn", [sys.executable, "-c", STUBBORN], log, env={"DOJO_PROBE": "x"})
    wait_for_line(child, "ready")
    began = time.monotonic()
    child.stop(grace_s=0.5)
    assert not child.alive() and child.proc.returncode == -signal.SIGKILL
    assert time.monotonic() - began >= 0.5
    assert child.tail(2) == "an earlier run\nenv x ready"  # appended, env added to ours
    child.stop()  # stopping a stopped child is a no-op


def test_sigint_is_passed_on_and_a_truncated_log_starts_afresh(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("stale\n")
    code = "import time\nprint('up', flush=True)\ntime.sleep(60)"
    child = Child.start("polite", [sys.executable, "-c", code], log, append=False)
    wait_for_line(child, "up")
    child.stop(signal.SIGINT, grace_s=10)
    assert child.proc.returncode == -signal.SIGINT  # ended by SIGINT itself, not SIGKILL
    assert child.output().startswith("up\n") and "stale" not in child.output()


def test_no_log_yet_reads_empty_and_a_free_port_is_free(tmp_path: Path) -> None:
    never = Child("never", subprocess.Popen([sys.executable, "-c", ""]), tmp_path / "no.log")
    never.proc.wait(10)
    assert never.output() == "" and never.tail() == ""
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nobody holds it: we can

"""Child processes of a benchmark: start with settings, stop, and read their /proc figures.

``Child`` and ``free_port`` are the ones every process starter uses (``infra.process``).
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.process import Child, free_port
from stream.settings import Settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STOP_GRACE_S = 20.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kib(text: str, key: str = "VmRSS") -> int:
    """A memory figure (VmRSS, VmHWM) in KiB from the text of ``/proc/<pid>/status``; 0 if absent.

    A process that has exited (a zombie, or one reaped already) has no memory lines: 0.
    """
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                return int(parts[0])
            return 0
    return 0


def memory_kib(pid: int, key: str = "VmRSS") -> int:
    """A ``/proc/<pid>/status`` memory figure (VmRSS, VmHWM) in KiB; 0 if gone."""
    try:
        return status_kib(Path(f"/proc/{pid}/status").read_text(), key)
    except (FileNotFoundError, ProcessLookupError):
        return 0


def parent_of(stat_text: str) -> int:
    """The parent pid in the text of ``/proc/<pid>/stat`` (field 4; the name may hold spaces)."""
    return int(stat_text.rsplit(")", 1)[1].split()[1])


def family(pid: int) -> list[int]:
    """``pid`` and every process descended from it that is alive now."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = parent_of((entry / "stat").read_text())
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue  # exited while we looked
    out, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        out += frontier
    return out


def family_kib(pids: list[int], key: str = "VmRSS") -> int:
    """The sum of a memory figure over ``pids`` and their descendants (a worker and its helpers)."""
    return sum(memory_kib(p, key) for root in pids for p in family(root))


def wait_port(port: int, deadline_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until something accepts connections on ``port``; raise on timeout or child death."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"child exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # polling interval, bounded by the deadline above
    raise TimeoutError(f"nothing listens on port {port} after {deadline_s:.0f} s")


@dataclass
class Children:
    """Every process a benchmark started, stopped in reverse order."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dojo-bench-")))
    started: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        """Start ``argv`` with its output in a log file of the work directory."""
        log = self.workdir / f"{name}-{len(self.started)}.log"
        child = Child.start(name, argv, log, env=env or {}, append=False)
        self.started.append(child)
        return child

    def dojo(self, name: str, command: str, settings: Settings) -> Child:
        """Start ``python -m dojo_pulse.cli <command>`` configured by ``settings``."""
        return self.spawn(
            name, [sys.executable, "-m", "dojo_pulse.cli", command], settings.to_env()
        )

    def stop(self, child: Child) -> None:
        child.stop(grace_s=STOP_GRACE_S)
        if child in self.started:
            self.started.remove(child)

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().stop(grace_s=STOP_GRACE_S)

    def cleanup(self) -> None:
        self.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)


def private_redis(children: Children) -> tuple[Child, str]:
    """A throwaway redis-server (no persistence) so runs never share dedupe keys or pub/sub."""
    port = free_port()
    child = children.spawn(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(children.workdir)],
    )  # fmt: skip
    wait_port(port, 15, child.proc)
    return child, f"redis://127.0.0.1:{port}/0"


def raise_open_files(wanted: int) -> int:
    """Lift the soft open-file limit towards ``wanted`` (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

"""A background server process we own: its lock, pidfile, stop and log tail.

Kafka and Redis are started the same way (``infra.process.spawn``): detached from the
caller (so `infra up` can return), output into a log file, pid in a pidfile under the data
dir. A pid is only "ours" while the process behind it still shows the marker we started it
with, so a stale pidfile or a recycled pid never makes us signal a stranger.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from infra.errors import InfraError

Echo = Callable[[str], None]

# Poll interval while waiting on another process; short enough to add little latency.
POLL_S = 0.1


@contextlib.contextmanager
def locked(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold an exclusive file lock at ``path`` so concurrent `up`/`down` calls take turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InfraError(
                        f"another infra command holds {path} for over {timeout:.0f} s; "
                        "wait for it to finish, or remove the file if no such command runs"
                    ) from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_pidfile(path: Path) -> int | None:
    """The pid stored at ``path``, or None when missing or unreadable."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def write_pidfile(path: Path, pid: int) -> None:
    """Store ``pid`` at ``path`` atomically (a reader never sees half a number)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{pid}\n")
    partial.replace(path)


def is_ours(pid: int | None, marker: str) -> bool:
    """True if ``pid`` is alive and its command line contains ``marker``."""
    if pid is None:
        return False
    # Reap it if it is our own exited child; a zombie would otherwise look alive.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user: the command line decides
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return True  # no /proc (macOS): liveness is the best we can check
    # Redis rewrites its command line as it starts; a read in that instant sees it empty.
    deadline = time.monotonic() + 1.0
    while True:
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            raw = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
        if state == "Z":
            return False
        if raw.strip(b"\0") or time.monotonic() > deadline:
            return marker in raw.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.01)


def port_open(host: str, port: int, *, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def stop(pid: int, marker: str, *, grace: float) -> None:
    """SIGTERM ``pid``, then SIGKILL if it is still alive after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_ours(pid, marker):
                return
            time.sleep(POLL_S)
    raise InfraError(f"process {pid} survived SIGKILL; check it with `ps -p {pid}`")


def stop_recorded(pidfile: Path, marker: str, *, name: str, grace: float, echo: Echo) -> bool:
    """Stop the process in ``pidfile`` if it is still ours and clear the file; True if stopped."""
    pid = read_pidfile(pidfile)
    stopped = False
    if pid is not None and is_ours(pid, marker):
        echo(f"{name}: stopping pid {pid}")
        stop(pid, marker, grace=grace)
        stopped = True
    pidfile.unlink(missing_ok=True)
    return stopped


def tail(paths: Sequence[Path], lines: int = 20) -> str:
    """The last ``lines`` lines of the given log files (missing files are skipped)."""
    chunks: list[str] = []
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if text.strip():
            last = text.rstrip("\n").splitlines()[-lines:]
            chunks.append(f"--- {path} (last {len(last)} lines)\n" + "\n".join(last))
    return "\n".join(chunks) if chunks else "(no log output)"

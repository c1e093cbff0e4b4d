"""Child processes we start: one way to spawn them, watch them, read their log and stop them.

The bottom layer of every process starter (infra daemons, the local launcher, benchmarks,
the integration tests), so each of them stops a child the same way: a signal, a wait of a
grace period, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def spawn(
    argv: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    detach: bool = False,
    append: bool = True,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout and stderr in ``log``; ``env`` is added to ours.

    ``detach`` starts it in its own session: it outlives the command that started it and
    does not receive the terminal's Ctrl-C.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab" if append else "wb") as out:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )


class Child:
    """One started process with its log; ``stop`` signals it, waits, then kills it."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        append: bool = True,
    ) -> Child:
        """Spawn ``argv`` (see ``spawn``) as a child called ``name``."""
        return cls(name, spawn(argv, log, env=env, append=append), log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(
        self,
        sig: signal.Signals = signal.SIGTERM,
        *,
        grace_s: float = 15.0,
        kill_wait_s: float | None = None,
    ) -> None:
        """Send ``sig`` and wait ``grace_s``; SIGKILL if it is still running then."""
        if not self.alive():
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(kill_wait_s)

    def output(self, chars: int | None = 4000) -> str:
        """The end of the log, its last ``chars`` characters (all when None; empty if none yet)."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text if chars is None else text[-chars:]

    def tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the log."""
        return "\n".join(self.output(None).splitlines()[-lines:])

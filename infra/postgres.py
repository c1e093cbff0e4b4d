"""A private PostgreSQL server (Debian's ``postgresql`` binaries) in a directory of our own.

For the test suite and the benchmarks, like Kafka and Redis there: ``start(home)`` runs
``initdb`` into ``home/data`` (once), starts the server on a loopback port with its unix
socket in ``home/run`` and its log in ``home/postgres.log``, and returns when it answers.
Only loopback and the private socket listen, so the cluster trusts local connections.

PostgreSQL refuses to run as root: when we are root, ``home`` is handed to the
``postgres`` OS user (Debian's package creates it) and every binary runs as that user.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from infra import daemon, process
from infra.errors import InfraError

BIN_GLOB = "/usr/lib/postgresql/*/bin"
OS_USER = "postgres"  # who runs the server when we are root
SUPERUSER = "postgres"  # the role initdb creates
INSTALL_HINT = "install Debian's postgresql package (`make system` does)"
# For throw-away clusters: a test's data need not survive a power cut.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def bin_dir(pattern: str = BIN_GLOB) -> Path:
    """The newest installed PostgreSQL's bin directory; InfraError if there is none."""
    found = [Path(p) for p in Path("/").glob(pattern.lstrip("/")) if (Path(p) / "initdb").exists()]
    if not found:
        raise InfraError(f"PostgreSQL's initdb not found under {pattern}: {INSTALL_HINT}")
    return max(found, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0])


def _as_owner(argv: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(argv)
    return ["runuser", "-u", OS_USER, "--", *argv]


def _run(argv: Sequence[str], what: str, timeout: float, log: Path | None = None) -> None:
    done = subprocess.run(
        _as_owner(argv), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        logged = f"\n{daemon.tail([log])}" if log is not None and log.exists() else ""
        raise InfraError(f"postgres: {what} failed ({done.returncode}):\n{output}{logged}")


@dataclass(frozen=True)
class Postgres:
    """A running private server: where it listens and how to stop it."""

    home: Path
    port: int
    bin: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL of ``database`` on this server (psycopg 3, loopback TCP)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def answers(self) -> bool:
        """True if the server takes connections."""
        try:
            with psycopg.connect(self._dsn("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def create_database(self, name: str) -> str:
        """Create the empty database ``name``; its URL."""
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop the database ``name``, ending any session still on it."""
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the server (fast shutdown: sessions are ended, data is flushed)."""
        argv = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w"]
        _run([*argv, "-t", str(round(timeout)), "stop"], "pg_ctl stop", timeout + 10, self.log)

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"


def _hand_over(home: Path) -> None:
    """Make ``home`` the server's: owned by the postgres user when we are root."""
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return
    for path in (home, *home.rglob("*")):
        shutil.chown(path, OS_USER, OS_USER)
    for parent in home.resolve().parents:
        if not os.stat(parent).st_mode & 0o001:
            raise InfraError(
                f"postgres: the {OS_USER} user cannot enter {parent}; put the server's "
                "directory somewhere it can reach (under /tmp, say)"
            )


def start(
    home: Path,
    *,
    port: int | None = None,
    config: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Postgres:
    """Initialise ``home`` if new, start the server on ``port`` (default: a free one), wait."""
    binaries = bin_dir()
    _hand_over(home)
    server = Postgres(home=home, port=port or process.free_port(), bin=binaries)
    if not (server.data / "PG_VERSION").exists():
        initdb = [str(binaries / "initdb"), "-D", str(server.data), "-U", SUPERUSER]
        _run([*initdb, "--auth=trust", "-E", "UTF8", "--no-locale", "-N"], "initdb", timeout)
    (home / "run").mkdir(exist_ok=True)
    _hand_over(home)
    options = {"listen_addresses": "127.0.0.1", **(config or {})}
    # pg_ctl hands -o to a shell.
    settings = " ".join(shlex.quote(f"-c{name}={value}") for name, value in options.items())
    argv = [str(binaries / "pg_ctl"), "-D", str(server.data), "-l", str(server.log), "-w"]
    argv += [
        "-t",
        str(round(timeout)),
        "-o",
        f"-p {server.port} -k {shlex.quote(str(home / 'run'))} {settings}",
    ]
    _run([*argv, "start"], "pg_ctl start", timeout + 10, server.log)
    if not server.answers():
        raise InfraError(f"postgres: started but does not answer:\n{daemon.tail([server.log])}")
    return server

"""A real local Redis (Debian's ``redis-server``), persistent, bound to loopback.

Layout under ``settings.data_dir / "redis"``: ``redis.conf``, ``redis.pid``,
``redis.log`` and the append-only files, so dedupe keys and the daily visitor salt
survive a restart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis as redis_client
from redis.exceptions import RedisError

from infra import daemon, process
from infra.daemon import Echo
from infra.errors import InfraError
from stream.settings import Settings

STOP_GRACE_S = 15.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def home(settings: Settings) -> Path:
    """Redis's directory under the data dir."""
    return settings.data_dir / "redis"


def address(settings: Settings) -> tuple[str, int]:
    """The (host, port) of ``settings.redis_url``; InfraError for URLs we cannot serve."""
    parts = urlsplit(settings.redis_url)
    if parts.scheme != "redis" or not parts.hostname:
        raise InfraError(
            f"infra runs Redis over plain TCP only; DOJO_REDIS_URL uses {parts.scheme}://"
        )
    return parts.hostname, parts.port or 6379


def render_config(settings: Settings) -> str:
    """The redis.conf for ``settings``: loopback, our port, append-only data in our dir."""
    host, port = address(settings)
    base = home(settings)
    lines = [
        "# Written by infra/redis.py on every `up`; edits are overwritten.",
        f"bind {host}",
        f"port {port}",
        f"dir {base}",
        "daemonize no",
        # Dedupe keys and the daily salt must survive restarts (README, "Operations").
        "appendonly yes",
        "appendfsync everysec",
        'logfile ""',
    ]
    return "\n".join(lines) + "\n"


def up(settings: Settings, *, timeout: float = 30.0, echo: Echo = print) -> str:
    """Start Redis if needed and wait for PING; say what was found or done."""
    host, port = address(settings)
    base = home(settings)
    with daemon.locked(base / ".lock", timeout=timeout + STOP_GRACE_S):
        pid = daemon.read_pidfile(base / "redis.pid")
        if daemon.is_ours(pid, "redis-server"):
            _wait_ready(settings, None, pid, time.monotonic() + timeout)
            return "already running"
        (base / "redis.pid").unlink(missing_ok=True)
        if daemon.port_open(host, port):
            if answers(settings):
                return "running (not ours)"
            raise InfraError(
                f"port {port} on {host} is taken by something that is not Redis; stop it, "
                "or choose another port with DOJO_REDIS_URL"
            )
        if host not in LOOPBACK:
            raise InfraError(f"infra starts Redis on this machine only; {host} is not loopback")
        binary = _find_redis(echo)
        conf = base / "redis.conf"
        conf.write_text(render_config(settings))
        echo(f"redis: starting on {host}:{port}")
        started = time.monotonic()
        proc = process.spawn([binary, str(conf)], base / "redis.log", cwd=base, detach=True)
        daemon.write_pidfile(base / "redis.pid", proc.pid)
        try:
            _wait_ready(settings, proc, proc.pid, started + timeout)
        except InfraError:
            daemon.stop_recorded(
                base / "redis.pid", "redis-server", name="redis", grace=5.0, echo=echo
            )
            raise
        echo(f"redis: ready on {host}:{port} in {time.monotonic() - started:.1f} s")
        return "started"


def down(settings: Settings, *, echo: Echo = print) -> bool:
    """Stop the Redis we started (never someone else's); True if one was stopped."""
    base = home(settings)
    with daemon.locked(base / ".lock", timeout=STOP_GRACE_S * 2):
        # SIGTERM makes Redis flush the append-only file before it exits.
        return daemon.stop_recorded(
            base / "redis.pid", "redis-server", name="redis", grace=STOP_GRACE_S, echo=echo
        )


def status(settings: Settings) -> dict[str, object]:
    """Whether Redis answers on ``settings.redis_url`` and whether it is ours."""
    host, port = address(settings)
    pid = daemon.read_pidfile(home(settings) / "redis.pid")
    ours = daemon.is_ours(pid, "redis-server")
    version = server_version(settings)
    return {
        "name": "redis",
        "running": version is not None,
        "ours": ours,
        "pid": pid if ours else None,
        "address": f"{host}:{port}",
        "version": version,
    }


def answers(settings: Settings) -> bool:
    """True if a Redis server answers PING at ``settings.redis_url``."""
    return server_version(settings) is not None


def server_version(settings: Settings) -> str | None:
    """The version reported by the Redis at ``settings.redis_url``, or None if none answers."""
    client = redis_client.Redis.from_url(
        settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
    )
    try:
        client.ping()
        return str(client.info("server").get("redis_version", "unknown"))
    except RedisError:
        return None
    finally:
        client.close()


def _wait_ready(
    settings: Settings, proc: subprocess.Popen[bytes] | None, pid: int | None, deadline: float
) -> None:
    """Poll until Redis answers PING; raise with its log if it exits or the deadline passes."""
    logs = [home(settings) / "redis.log"]
    while True:
        exited = proc.poll() is not None if proc else not daemon.is_ours(pid, "redis-server")
        if exited:
            raise InfraError(f"redis-server exited during start:\n{daemon.tail(logs)}")
        if answers(settings):
            return
        if time.monotonic() > deadline:
            raise InfraError(
                f"redis-server did not answer PING before the deadline:\n{daemon.tail(logs)}"
            )
        time.sleep(daemon.POLL_S)


def _find_redis(echo: Echo) -> str:
    """Path of redis-server, installing Debian's package first when we are root."""
    binary = shutil.which("redis-server")
    if binary is not None:
        return binary
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise InfraError(
            "redis-server not found on PATH; install it "
            "(Debian: sudo apt-get install -y redis-server)"
        )
    echo("redis: redis-server missing; installing Debian's redis-server package ...")
    # `env` sets DEBIAN_FRONTEND so debconf never waits for a prompt nobody sees.
    quiet = ["env", "DEBIAN_FRONTEND=noninteractive", apt]
    for argv in ([*quiet, "update"], [*quiet, "install", "-y", "redis-server"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise InfraError(f"installing redis-server failed ({' '.join(argv[2:])}):\n{output}")
    binary = shutil.which("redis-server")
    if binary is None:
        raise InfraError("redis-server still not on PATH after apt-get install redis-server")
    return binary

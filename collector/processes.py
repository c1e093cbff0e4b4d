"""Serving the collector: one process, or ``DOJO_COLLECTOR_PROCESSES`` on one port.

One Python process answers from one core. With several, each binds the port itself with
``SO_REUSEPORT`` and the kernel spreads new connections over them; each has its own Redis
pool, salt cache, rate-limit leases and Kafka producer, exactly as separate replicas
would (the salt is agreed in Redis, leases never sum past the limit, and a 202 still
waits for the broker's acknowledgement). Their counters are summed on ``/metrics`` through
prometheus_client's multiprocess mode, whichever process answers the scrape.

The first process to exit stops the others and the command fails: a supervisor (systemd,
compose) restarts the whole collector rather than leave it serving on fewer cores unseen.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from multiprocessing.connection import wait
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from stream.logs import log_config
from stream.settings import Settings

log = logging.getLogger(__name__)

# The app is made in each process (a spawned process gets the function by its import path).
AppFactory = Callable[[Settings], Starlette]

BACKLOG = 2048
STOP_GRACE_S = 20.0  # each process flushes its producer before it exits
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def config(app: Starlette, settings: Settings) -> uvicorn.Config:
    """The collector's uvicorn options (the bench's floor app is served with the same)."""
    return uvicorn.Config(
        app,
        host=settings.collector_host,
        port=settings.collector_port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        # Access logs would write client IPs. Forwarded headers are read by the app
        # itself (collector.proxies, DOJO_TRUSTED_PROXIES), never rewritten by uvicorn.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_config=log_config(),  # no client addresses, no query strings
    )


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that sibling processes may bind as well."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sock = socket.socket(family[0][0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(family[0][4])
    sock.listen(BACKLOG)
    return sock


def serve_one(make_app: AppFactory, settings: Settings, shared: bool) -> None:
    """Serve in this process until SIGTERM/SIGINT; on a port shared with siblings if asked."""
    server = uvicorn.Server(config(make_app(settings), settings))
    sockets = [shared_socket(settings.collector_host, settings.collector_port)] if shared else None
    server.run(sockets=sockets)


def serve(make_app: AppFactory, settings: Settings) -> None:
    """Run ``make_app(settings)`` until stopped, in ``settings.collector_processes`` processes."""
    if settings.collector_processes == 1:
        serve_one(make_app, settings, shared=False)
        return
    metrics_dir = tempfile.mkdtemp(prefix="dojo-collector-metrics-")
    os.environ[METRICS_DIR] = metrics_dir  # read by prometheus_client in each process
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=serve_one, args=(make_app, settings, True), name=f"collector-{n}")
        for n in range(settings.collector_processes)
    ]
    asked = False  # to stop, by a signal: else a process died and the command fails

    def terminate() -> None:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)  # each flushes its producer and exits

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal asked
        asked = True
        terminate()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.start()
        wait([c.sentinel for c in children])  # returns when the first one exits
        if not asked:
            log.error("a collector process exited; stopping the others")
            terminate()
        for child in children:
            child.join(STOP_GRACE_S)
            if child.is_alive():
                child.kill()
                child.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if not asked:
        raise SystemExit(1)

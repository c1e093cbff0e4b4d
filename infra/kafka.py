"""A real single-node Apache Kafka broker (KRaft) run from the official jars, no Docker.

Layout under ``settings.data_dir / "kafka"``: ``server.properties``, ``kafka.pid``,
``version``, ``storage/`` (the log dirs, formatted once) and ``logs/`` (``server.log``
from log4j2, ``stdout.log`` from the JVM). Jars live in
``settings.cache_dir / "kafka-<version>" / "libs"``, shared by every data dir.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from infra import daemon, process
from infra.broker_log import loading_progress
from infra.daemon import Echo
from infra.errors import InfraError
from infra.java import find_java
from infra.kafka_jars import FETCH_TIMEOUT_S, fetch
from stream.settings import Settings

HERE = Path(__file__).resolve().parent
LOG4J = HERE / "log4j2.properties"

# The broker shuts down in a few seconds when healthy; a stuck one gets SIGKILL after this.
STOP_GRACE_S = 30.0
# A broker loading many partition logs is given more time while it moves, up to this.
LOAD_CAP_S = 1200.0
LOAD_STALL_S = 60.0  # no progress for this long: the start has failed
# Keeps the broker within a 2 GB box alongside Redis, the worker and the web apps. Direct
# memory is capped at the heap's size; each network thread keeps the temporary direct buffer
# of the largest request it read, so after a big day's learner checkpoints (megabytes each)
# the cache alone exhausted it (OutOfMemoryError, every client refused): buffers above 256 KiB
# are freed after use instead.
JVM_FLAGS = (
    "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true", "-Djdk.nio.maxCachedBufferSize=262144",
)  # fmt: skip


def home(settings: Settings) -> Path:
    """The broker's directory under the data dir."""
    return settings.data_dir / "kafka"


def render_properties(settings: Settings, storage: Path) -> str:
    """The broker's server.properties for ``settings`` with its log dirs in ``storage``."""
    host, port, ctl = settings.kafka_host, settings.kafka_port, settings.kafka_controller_port
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ctl}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(storage),
        # One node: every internal topic can only have one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Consumers join at once instead of waiting 3 s for peers that never come.
        "group.initial.rebalance.delay.ms": "0",
        # Topics are created by the product with explicit partitions and retention.
        "auto.create.topics.enable": "false",
    }
    body = "\n".join(f"{key}={value}" for key, value in lines.items())
    return f"# Written by infra/kafka.py on every `up`; edits are overwritten.\n{body}\n"


def cluster_id() -> str:
    """A fresh KRaft cluster id: a random UUID in Kafka's URL-safe base64 form."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids ids that read as command-line flags
            return text


def up(settings: Settings, *, timeout: float = 90.0, echo: Echo = print) -> str:
    """Start the broker if needed and wait until it answers; say what was found or done."""
    base = home(settings)
    # A concurrent caller may hold the lock through a first download and a full start.
    with daemon.locked(base / ".lock", timeout=FETCH_TIMEOUT_S + LOAD_CAP_S + STOP_GRACE_S):
        pid = daemon.read_pidfile(base / "kafka.pid")
        if daemon.is_ours(pid, _marker(settings)):
            _wait_ready(settings, None, pid, time.monotonic() + timeout, echo)
            return "already running"
        (base / "kafka.pid").unlink(missing_ok=True)
        if _port_busy(settings):
            return "running (not ours)"
        java = find_java()
        libs = fetch(settings, echo=echo)
        storage, logs = base / "storage", base / "logs"
        props = base / "server.properties"
        props.write_text(render_properties(settings, storage))
        classpath = f"{libs}/*"
        if not (storage / "meta.properties").exists():
            echo(f"kafka: formatting storage in {storage}")
            _format(java, classpath, props, logs / "format.log")
        argv = [
            java,
            *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={logs}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(props),
        ]
        echo(f"kafka: starting {settings.kafka_version} on {settings.kafka}")
        started = time.monotonic()
        proc = process.spawn(argv, logs / "stdout.log", cwd=base, detach=True)
        daemon.write_pidfile(base / "kafka.pid", proc.pid)
        (base / "version").write_text(settings.kafka_version + "\n")
        try:
            _wait_ready(settings, proc, proc.pid, started + timeout, echo)
        except InfraError:
            daemon.stop_recorded(
                base / "kafka.pid", _marker(settings), name="kafka", grace=5.0, echo=echo
            )
            raise
        echo(f"kafka: ready on {settings.kafka} in {time.monotonic() - started:.1f} s")
        return "started"


def down(settings: Settings, *, echo: Echo = print) -> bool:
    """Stop the broker we started (never someone else's); True if one was stopped."""
    base = home(settings)
    with daemon.locked(base / ".lock", timeout=STOP_GRACE_S * 2):
        return daemon.stop_recorded(
            base / "kafka.pid", _marker(settings), name="kafka", grace=STOP_GRACE_S, echo=echo
        )


def status(settings: Settings) -> dict[str, object]:
    """Whether a broker answers on ``settings.kafka`` and whether it is ours."""
    base = home(settings)
    pid = daemon.read_pidfile(base / "kafka.pid")
    ours = daemon.is_ours(pid, _marker(settings))
    running = daemon.port_open(settings.kafka_host, settings.kafka_port) and answers(settings)
    version = None
    if ours:
        try:
            version = (base / "version").read_text().strip()
        except OSError:
            version = None
    return {
        "name": "kafka",
        "running": running,
        "ours": ours,
        "pid": pid if ours else None,
        "address": settings.kafka,
        "version": version,
    }


def answers(settings: Settings, *, timeout: float = 5.0) -> bool:
    """True if a Kafka broker completes a metadata round trip on ``settings.kafka``."""
    return _run(_probe(settings.kafka, timeout))


def _marker(settings: Settings) -> str:
    # The properties path is unique per data dir, so two brokers never mistake each other.
    return str(home(settings) / "server.properties")


def _port_busy(settings: Settings) -> bool:
    """True if a foreign Kafka already serves our address; raise if a stranger holds a port."""
    host, port, ctl = settings.kafka_host, settings.kafka_port, settings.kafka_controller_port
    if daemon.port_open(host, port):
        if answers(settings):
            return True
        raise InfraError(
            f"port {port} on {host} is taken by something that is not Kafka; stop it, "
            "or choose another address with DOJO_KAFKA"
        )
    if daemon.port_open(host, ctl):
        raise InfraError(
            f"controller port {ctl} on {host} is taken by another process; stop it, "
            "or choose another port with DOJO_KAFKA_CONTROLLER_PORT"
        )
    return False


def _format(java: str, classpath: str, props: Path, log: Path) -> None:
    argv = [
        java,
        "-cp",
        classpath,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id(),
        "-c",
        str(props),
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
    if done.returncode != 0:
        raise InfraError(f"formatting Kafka storage failed:\n{daemon.tail([log])}")


def _wait_ready(
    settings: Settings,
    proc: subprocess.Popen[bytes] | None,
    pid: int | None,
    deadline: float,
    echo: Echo = print,
) -> None:
    """Poll until the broker answers; raise with its log if it exits or stops moving.

    A broker still loading partition logs gets more time as long as it makes progress
    (up to ``LOAD_CAP_S``); each step of progress is echoed.
    """
    logs = [home(settings) / "logs" / "stdout.log", home(settings) / "logs" / "server.log"]
    cap = time.monotonic() + LOAD_CAP_S
    seen: tuple[int, int] | None = None
    while True:
        exited = proc.poll() is not None if proc else not daemon.is_ours(pid, _marker(settings))
        if exited:
            raise InfraError(f"the Kafka broker exited during start:\n{daemon.tail(logs)}")
        remaining = deadline - time.monotonic()
        if daemon.port_open(settings.kafka_host, settings.kafka_port) and answers(
            settings, timeout=max(1.0, min(5.0, remaining))
        ):
            return
        progress = loading_progress(logs[1])
        if progress is not None and progress != seen:
            if seen is None or progress[0] * 10 // progress[1] > seen[0] * 10 // seen[1]:
                echo(f"kafka: loading partition logs {progress[0]}/{progress[1]}")
            seen = progress
            deadline = min(cap, max(deadline, time.monotonic() + LOAD_STALL_S))
        if time.monotonic() > deadline:
            raise InfraError(
                f"the Kafka broker did not answer on {settings.kafka} before the deadline:\n"
                f"{daemon.tail(logs)}"
            )
        time.sleep(daemon.POLL_S * 2)


async def _probe(bootstrap: str, timeout: float) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()


def _run(coro: Coroutine[Any, Any, bool]) -> bool:
    """Run ``coro`` to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A pytest-asyncio fixture or an async CLI may call us; asyncio.run needs its own thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()

"""The parts of ``infra`` that need no running broker: config, pidfiles, clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import daemon, kafka, kafka_jars, redis
from infra.broker_log import loading_progress
from infra.errors import InfraError
from infra.java import find_java, find_maven, java_major
from stream.settings import Settings
from tests.conftest import free_port


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "kafka": f"127.0.0.1:{free_port()}",
        "kafka_controller_port": free_port(),
        "redis_url": f"redis://127.0.0.1:{free_port()}/0",
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _bin_dir(tmp_path: Path, **scripts: str) -> Path:
    """A directory of executable shell scripts, to stand in for PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return bin_dir


@pytest.fixture
def stranger() -> Iterator[int]:
    """A port held by a TCP server that is neither Kafka nor Redis: it hangs up at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    # accept() wakes up regularly to notice `stop`; close() alone would not interrupt it.
    server.settimeout(0.05)
    port = int(server.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(timeout=5)
    server.close()


# --- rendering -------------------------------------------------------------------------


def test_server_properties_use_the_ports_from_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka="127.0.0.1:19092", kafka_controller_port=19093)
    text = kafka.render_properties(settings, tmp_path / "storage")
    props = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["process.roles"] == "broker,controller"
    assert props["log.dirs"] == str(tmp_path / "storage")
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_cluster_ids_are_kafka_shaped_and_fresh() -> None:
    ids = {kafka.cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert len(value) == 22
        assert not value.startswith("-")
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_redis_config_binds_loopback_and_keeps_an_append_only_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, redis_url="redis://127.0.0.1:16379/0")
    lines = redis.render_config(settings).splitlines()
    assert "bind 127.0.0.1" in lines
    assert "port 16379" in lines
    assert "appendonly yes" in lines
    assert f"dir {tmp_path / 'data' / 'redis'}" in lines


def test_redis_over_a_unix_socket_is_refused_plainly(tmp_path: Path) -> None:
    settings = _settings(tmp_path, redis_url="unix:///run/redis.sock")
    with pytest.raises(InfraError, match="plain TCP"):
        redis.address(settings)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("no version here", None),
    ],
)
def test_java_major_reads_old_and_new_version_strings(output: str, major: int | None) -> None:
    assert java_major(output) == major


# --- pidfiles and processes ------------------------------------------------------------


def test_pidfile_round_trip_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "x" / "server.pid"
    assert daemon.read_pidfile(path) is None
    daemon.write_pidfile(path, 4321)
    assert daemon.read_pidfile(path) == 4321
    for garbage in ("", "abc", "-5", "0", "12 34"):
        path.write_text(garbage)
        assert daemon.read_pidfile(path) is None


def test_is_ours_needs_a_live_process_with_our_marker(tmp_path: Path) -> None:
    marker = str(tmp_path / "marker.properties")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        assert daemon.is_ours(proc.pid, marker)
        assert not daemon.is_ours(proc.pid, str(tmp_path / "other.properties"))
        daemon.stop(proc.pid, marker, grace=5.0)
        assert not daemon.is_ours(proc.pid, marker)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert not daemon.is_ours(None, marker)


def test_down_with_a_stale_pidfile_stops_nothing_and_clears_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(done.stdout)
    for pidfile in (kafka.home(settings) / "kafka.pid", redis.home(settings) / "redis.pid"):
        daemon.write_pidfile(pidfile, dead_pid)
    # Our own pid is alive but is not a broker: it must never be signalled.
    daemon.write_pidfile(kafka.home(settings) / "kafka.pid", os.getpid())
    assert kafka.down(settings, echo=lambda _: None) is False
    assert redis.down(settings, echo=lambda _: None) is False
    assert not (kafka.home(settings) / "kafka.pid").exists()
    assert not (redis.home(settings) / "redis.pid").exists()
    status = kafka.status(settings)
    assert status["ours"] is False
    assert status["running"] is False
    assert status["pid"] is None


def test_tail_shows_the_last_lines_of_each_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(50)))
    text = daemon.tail([log, tmp_path / "missing.log"], lines=20)
    assert "line 49" in text
    assert "line 30" in text
    assert "line 29" not in text
    assert daemon.tail([tmp_path / "missing.log"]) == "(no log output)"


def test_the_lock_lets_one_holder_in_at_a_time(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    # A second holder, even in the same process, must wait and then give up.
    with daemon.locked(lock), pytest.raises(InfraError, match="holds"), daemon.locked(lock, 0.3):
        pass
    with daemon.locked(lock, timeout=0.3):
        assert lock.exists()


# --- clear errors ----------------------------------------------------------------------


def test_kafka_port_taken_by_a_stranger(tmp_path: Path, stranger: int) -> None:
    settings = _settings(tmp_path, kafka=f"127.0.0.1:{stranger}")
    with pytest.raises(InfraError, match=f"port {stranger} .* not Kafka"):
        kafka.up(settings, echo=lambda _: None)
    assert not (kafka.home(settings) / "kafka.pid").exists()


def test_kafka_controller_port_taken(tmp_path: Path, stranger: int) -> None:
    settings = _settings(tmp_path, kafka_controller_port=stranger)
    with pytest.raises(InfraError, match="DOJO_KAFKA_CONTROLLER_PORT"):
        kafka.up(settings, echo=lambda _: None)


def test_redis_port_taken_by_a_stranger(tmp_path: Path, stranger: int) -> None:
    settings = _settings(tmp_path, redis_url=f"redis://127.0.0.1:{stranger}/0")
    with pytest.raises(InfraError, match=f"port {stranger} .* not Redis"):
        redis.up(settings, echo=lambda _: None)


def test_no_java_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_bin_dir(tmp_path)))
    settings = _settings(tmp_path)
    with pytest.raises(InfraError, match=r"Java 17\+ not found"):
        kafka.up(settings, echo=lambda _: None)
    with pytest.raises(InfraError, match=r"Java 17\+ not found"):
        kafka_jars.fetch(settings, echo=lambda _: None)


def test_java_too_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java11 = """echo 'openjdk version "11.0.2" 2019-01-15' >&2"""
    monkeypatch.setenv("PATH", str(_bin_dir(tmp_path, java=java11)))
    with pytest.raises(InfraError, match=r"Java 17\+ not found: .* is Java 11"):
        find_java()


def test_maven_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java17 = """echo 'openjdk version "17.0.15" 2025-04-15' >&2"""
    monkeypatch.setenv("PATH", str(_bin_dir(tmp_path, java=java17)))
    with pytest.raises(InfraError, match="Maven not found"):
        find_maven()
    with pytest.raises(InfraError, match="Maven not found"):
        kafka_jars.fetch(_settings(tmp_path), echo=lambda _: None)


def test_failed_download_leaves_no_cache_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java17 = """echo 'openjdk version "17.0.15" 2025-04-15' >&2"""
    mvn = "echo '[ERROR] Could not resolve org.apache.kafka:kafka_2.13:jar:9.9.9'; exit 1"
    monkeypatch.setenv("PATH", str(_bin_dir(tmp_path, java=java17, mvn=mvn)))
    settings = _settings(tmp_path, kafka_version="9.9.9")
    with pytest.raises(InfraError, match=r"download failed: (.|\n)*Could not resolve"):
        kafka_jars.fetch(settings, echo=lambda _: None)
    assert not (kafka_jars.libs_dir(settings).parent / "complete").exists()
    assert not kafka_jars.libs_dir(settings).exists()


def test_fetch_is_a_no_op_once_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    libs = kafka_jars.libs_dir(settings)
    libs.mkdir(parents=True)
    (libs.parent / "complete").write_text(settings.kafka_version)
    # No java and no mvn on PATH: any attempt to download would raise.
    monkeypatch.setenv("PATH", str(_bin_dir(tmp_path)))
    lines: list[str] = []
    assert kafka_jars.fetch(settings, echo=lines.append) == libs
    assert lines == []


def test_redis_missing_without_a_way_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PATH without redis-server and without apt-get: no install is attempted.
    monkeypatch.setenv("PATH", str(_bin_dir(tmp_path)))
    with pytest.raises(InfraError, match="redis-server not found"):
        redis.up(_settings(tmp_path), echo=lambda _: None)


def test_loading_progress_reads_the_newest_count(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    assert loading_progress(log) is None  # no log yet
    log.write_text("INFO starting\n")
    assert loading_progress(log) is None  # nothing loaded yet
    log.write_text(
        "INFO Completed load of Log(...) (1/6758 completed in /x)\n"
        "INFO Completed load of Log(...) (6249/6758 completed in /x)\n"
    )
    assert loading_progress(log) == (6249, 6758)


def test_a_broker_that_keeps_loading_gets_more_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start past its first deadline goes on while the log shows progress, and fails once
    progress stops; the caller is told how far the load got."""
    settings = Settings(data_dir=tmp_path)
    log = kafka.home(settings) / "logs" / "server.log"
    log.parent.mkdir(parents=True)
    clock = [0.0]
    polls = [0]

    def tick(_s: float) -> None:
        clock[0] += 10.0
        polls[0] += 1
        if polls[0] <= 20:  # 200 s of steady progress, then none
            log.write_text(f"x ({polls[0] * 100}/2000 completed in /x)\n")

    monkeypatch.setattr(kafka.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(kafka.time, "sleep", tick)
    monkeypatch.setattr(kafka.daemon, "is_ours", lambda _pid, _marker: True)
    monkeypatch.setattr(kafka.daemon, "port_open", lambda _host, _port: False)
    said: list[str] = []
    with pytest.raises(InfraError, match="before the deadline"):
        kafka._wait_ready(settings, None, 1, deadline=30.0, echo=said.append)
    assert clock[0] >= 200 + kafka.LOAD_STALL_S  # kept waiting while it moved
    assert clock[0] < 200 + kafka.LOAD_STALL_S + 30  # and not much longer once it stopped
    assert said[0] == "kafka: loading partition logs 100/2000"
    assert said[-1] == "kafka: loading partition logs 2000/2000"
    assert len(said) <= 11  # a line per tenth, not per poll

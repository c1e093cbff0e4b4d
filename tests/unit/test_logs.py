"""Process logging: a repeating warning is written once per spell, anything new at once."""

from __future__ import annotations

import io
import logging
import logging.config

from stream.logs import MAX_KINDS, QUIET_S, Repeats, log_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(
    msg: object, *args: object, name: str = "aiokafka", level: int = logging.ERROR
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def test_a_repeating_warning_passes_once_until_it_has_been_quiet() -> None:
    clock = Clock()
    gate = Repeats(clock=clock)
    template = "Unable connect to node with id %s: %s"
    passed = []
    for n in range(16_000):  # one second of a broker outage, as it was logged
        clock.now += 1 / 16_000
        passed.append(gate.filter(record(template, n % 3, "[Errno 111] Connection refused")))
    assert passed.count(True) == 1 and passed[0]
    assert gate.held == 15_999
    # Still repeating after QUIET_S in all: the outage goes on, nothing new to say.
    for _ in range(int(QUIET_S)):
        clock.now += 1.0
        assert not gate.filter(record(template, 1, "refused"))
    # Quiet for QUIET_S: the next outage is news again.
    clock.now += QUIET_S
    assert gate.filter(record(template, 1, "refused"))


def test_other_kinds_and_lower_levels_are_not_held() -> None:
    gate = Repeats(clock=Clock())
    assert gate.filter(record("Unable to update metadata from %s", [1]))
    assert gate.filter(record("Unable to update metadata from %s", [1], name="aiokafka.client"))
    assert gate.filter(record("Kafka unavailable at %s", "x", name="collector.sink"))
    for _ in range(100):
        assert gate.filter(record("connected to %s", "x", level=logging.INFO))
        assert gate.filter(record("fetch %s", "x", level=logging.DEBUG))
    assert gate.held == 0


def test_hostile_messages_neither_crash_nor_grow_the_memory() -> None:
    gate = Repeats(clock=Clock())
    odd: list[object] = [ValueError("boom"), None, 12, {"a": [1]}, "\x00\ud800", "%s %d"]
    assert all(gate.filter(record(m)) for m in odd)
    # Messages built with f-strings are all distinct kinds: remembered up to a bound, the
    # least recently seen forgotten first (so written again), the recent still held.
    for n in range(MAX_KINDS * 5):
        assert gate.filter(record(f"request {n} failed"))
    assert not gate.filter(record(f"request {MAX_KINDS * 5 - 1} failed"))
    assert gate.filter(record("request 0 failed"))


def test_the_config_writes_through_the_gate() -> None:
    out = io.StringIO()
    config = log_config("warn")
    config["handlers"]["stderr"]["stream"] = out
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.config.dictConfig(config)
    try:
        noisy = logging.getLogger("aiokafka.test_logs")
        for _ in range(1000):
            noisy.error("Unable connect to node with id %s: %s", 1, "refused")
        logging.getLogger("stream.test_logs").info("below the level: not written")
        logging.getLogger("collector.test_logs").warning("Kafka unavailable at %s", "127.0.0.1:1")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "ERROR aiokafka.test_logs: Unable connect to node with id 1: refused" in lines[0]
    assert lines[1].endswith("WARNING collector.test_logs: Kafka unavailable at 127.0.0.1:1")

"""The ceiling: how fast the same data can be read with no framework in the way.

Two readers: a raw aiokafka ``getmany`` + ``orjson.loads`` loop (what any Python consumer
must at least pay) and Kafka's own ``ConsumerPerformance`` tool (fetch only, no decoding).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from stream.settings import Settings

POLL_RECORDS = 10_000


@dataclass(frozen=True)
class Drain:
    """One read of a topic to its end."""

    messages: int
    events: int
    seconds: float
    cpu_s: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def raw_loop(
    settings: Settings, topic: str, expected: int, *, timeout_s: float = 120
) -> Drain:
    """Consume ``expected`` messages from the start of ``topic``, decoding each with orjson."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka,
        group_id=f"bench-ceiling-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    messages = events = 0
    began = cpu0 = 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while messages < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=POLL_RECORDS)
            if batches and not began:
                # Timing starts with the first data, as for every other reader: group join
                # and metadata are start-up, not throughput.
                began, cpu0 = time.perf_counter(), time.process_time()
            for records in batches.values():
                for record in records:
                    events += len(orjson.loads(record.value)["events"])
                messages += len(records)
        seconds = time.perf_counter() - began if began else 0.0
        return Drain(messages, events, seconds, time.process_time() - cpu0)
    finally:
        await consumer.stop()


def consumer_performance(
    settings: Settings, topic: str, expected: int, libs: Path, events_per_message: float
) -> Drain | None:
    """Kafka's ConsumerPerformance over the same topic; None when the tool is unavailable."""
    if not any(libs.glob("kafka-tools-*.jar")):
        return None
    argv = [
        "java", "-Xmx512m", "-cp", f"{libs}/*", "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server", settings.kafka, "--topic", topic, "--messages", str(expected),
        "--group", f"bench-cperf-{uuid.uuid4().hex[:8]}", "--timeout", "60000",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    lines = [line for line in done.stdout.splitlines() if line and line[0].isdigit()]
    if done.returncode != 0 or not lines:
        return None
    # start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.ms, fetch.ms, fetch.MB.sec,
    # fetch.nMsg.sec: the fetch columns leave out the group join, as the raw loop does.
    cols = [c.strip() for c in lines[-1].split(",")]
    messages, fetch_ms = int(cols[4]), float(cols[7])
    seconds = fetch_ms / 1000
    return Drain(messages, round(messages * events_per_message), seconds, 0.0)

"""Backup and restore throughput beside a bare aiokafka read/write loop of the same records.

    python -m bench.backup [--events 1000000]

On the machine's broker, in a deployment of its own (deleted at the end): ``--events``
event-sized records go to the raw topic over 4 partitions. Then, timed: a bare aiokafka
read of every record (the read ceiling), ``create`` (read, frame, zstd, SHA-256, write),
a bare aiokafka write of the same records to a scratch topic (the write ceiling), and
``restore`` of the backup under another topic prefix (read, verify, write). The process's
resident memory is sampled as each step progresses: it must stay flat as the backup grows.
Writes ``bench/results/backup.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.backup.create import create
from stream.backup.meter import Tick
from stream.backup.restore import restore
from stream.settings import Settings
from stream.topics import drop_topics, ensure_topics

RESULTS = Path(__file__).parent / "results" / "backup.md"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def event(i: int) -> bytes:
    """An event-sized record (~330 B of JSON, like one validated page view)."""
    return (
        b'{"event_id":"%032x","type":"page_view","ts":%d,"session":"s-%016x",'
        b'"url":"https://dojo.example/events/robot-club-%d","referrer":"https://dojo.example/",'
        b'"device":"desktop","vitals":{"LCP":%d.5,"CLS":0.0%d},"props":{"title":"Robot club"}}'
        % (i * 7919, 1_790_000_000_000 + i, i // 20, i % 97, 900 + i % 3000, i % 10)
    )


@dataclass
class Step:
    name: str
    records: int = 0
    seconds: float = 0.0
    payload_mb: float = 0.0
    rss: list[float] = field(default_factory=list)  # MB at 25/50/75/100 % of the step

    def line(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0
        mbs = self.payload_mb / self.seconds if self.seconds else 0
        rss = " / ".join(f"{r:.0f}" for r in self.rss)
        cells = [self.name, f"{self.records:,}", f"{self.seconds:.1f}", f"{rate:,.0f}",
                 f"{mbs:.1f}", rss]  # fmt: skip
        return "| " + " | ".join(cells) + " |"


class Sampler:
    """A meter that notes RSS at each quarter of a step's progress."""

    def __init__(self, step: Step, total: int) -> None:
        self.step, self.total, self.done, self.next = step, total, 0, 1

    def __call__(self, _label: str, _total: int | None, unit: str) -> Tick:
        if unit != "records":
            return lambda _n: None

        def tick(n: int) -> None:
            self.done += n
            while self.next <= 4 and self.done >= self.total * self.next / 4:
                self.step.rss.append(rss_mb())
                self.next += 1

        return tick


async def fill(settings: Settings, topic: str, events: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, linger_ms=20,
                                max_batch_size=1 << 20, acks=1)  # fmt: skip
    await producer.start()
    size = 0
    try:
        pending = []
        for i in range(events):
            value = event(i)
            size += len(value)
            pending.append(await producer.send(topic, value, key=b"s-%016x" % (i // 20)))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return size / 1e6


async def bare_read(settings: Settings, topic: str, partitions: int, events: int) -> Step:
    step = Step("bare aiokafka read (ceiling)")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka, enable_auto_commit=False,
        max_partition_fetch_bytes=32 << 20, fetch_max_bytes=64 << 20,
    )  # fmt: skip
    await consumer.start()
    began = time.perf_counter()
    quarter = 1
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while step.records < events:
            for records in (await consumer.getmany(timeout_ms=500, max_records=50_000)).values():
                step.records += len(records)
                step.payload_mb += sum(len(r.value or b"") for r in records) / 1e6
            while quarter <= 4 and step.records >= events * quarter / 4:
                step.rss.append(rss_mb())
                quarter += 1
    finally:
        await consumer.stop()
    step.seconds = time.perf_counter() - began
    return step


async def bare_write(settings: Settings, topic: str, events: int) -> Step:
    step = Step("bare aiokafka write (ceiling)")
    began = time.perf_counter()
    step.payload_mb = await fill(settings, topic, events)
    step.records, step.seconds = events, time.perf_counter() - began
    step.rss = [rss_mb()]
    return step


async def bench(events: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    base = Settings.from_env()
    home = Path(tempfile.mkdtemp(prefix="dojo-bench-backup-"))
    settings = replace(base, topic_prefix=f"bb{run}", app_id=f"bench-backup-{run}",
                       data_dir=home / "data", backup_dir=str(home / "backups"))  # fmt: skip
    target = replace(settings, topic_prefix=f"br{run}", app_id=f"bench-restore-{run}")
    await ensure_topics(settings)
    try:
        payload = await fill(settings, settings.topic_raw, events)
        read = await bare_read(settings, settings.topic_raw, settings.partitions, events)
        made = Step("backup create", payload_mb=payload)
        began = time.perf_counter()
        directory, manifest = await create(settings, meter=Sampler(made, manifest_total := events),
                                           redis=False)  # fmt: skip
        made.seconds, made.records = time.perf_counter() - began, manifest.records
        write = await bare_write(settings, settings.topic("events.dlq"), events)
        back = Step("backup restore (verify + write)", payload_mb=payload)
        began = time.perf_counter()
        outcome = await restore(target, directory, None, redis=False,
                                meter=Sampler(back, manifest_total))  # fmt: skip
        back.seconds, back.records = time.perf_counter() - began, outcome.records
        size_mb = manifest.size / 1e6
    finally:
        await drop_topics(settings)
        await drop_topics(target)
        shutil.rmtree(home, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
    return [
        "# Backup and restore throughput",
        "",
        f"`python -m bench.backup --events {events}` on {time.strftime('%Y-%m-%d')}: "
        f"{events:,} event-sized records ({payload:.0f} MB of values) in "
        f"{settings.partitions} partitions of the raw topic (plus the deployment's empty "
        "topics), the machine's broker, 2 shared cores.",
        "",
        "| step | records | s | records/s | MB/s (values) | RSS MB at 25/50/75/100 % |",
        "|---|---:|---:|---:|---:|---|",
        read.line(), made.line(), write.line(), back.line(),
        "",
        f"Backup size {size_mb:.1f} MB (zstd level 3, {payload / size_mb:.1f}x smaller than "
        f"the values); peak RSS of the whole run {peak:.0f} MB.",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    lines = asyncio.run(bench(args.events))
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

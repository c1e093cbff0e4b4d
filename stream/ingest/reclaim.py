"""Which event ids ``dojo.events`` accepted within the dedupe window, and by which raw message.

The dedupe store's claims are a cache of this: when Redis loses them, ``stream.ingest.dedupe``
reads them again from here. Each clean bundle names, per session batch, the raw message
(partition and offset) its events came from, which is exactly the owner a claim holds. The
read starts at the first message of the window (``offsets_for_times``) and stops at the end
offsets taken when it began, streaming: a chunk of claims at a time, never the whole window.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from stream.ingest.bundles import unpack
from stream.ingest.contract import ID_PATTERN
from stream.ingest.dedupe import Accepted
from stream.settings import Settings

CHUNK = 5_000  # claims per restore call: one script run of a few milliseconds
STALL_S = 30.0  # no message for this long while some are still due: Kafka is not answering
FETCH_MS = 500


def accepted_in(record: ConsumerRecord[Any, Any], now_ms: int, window_ms: int) -> list[Accepted]:
    """The (event id, owner, seconds left) of one ``dojo.events`` message still in the window."""
    left_s = (window_ms - (now_ms - record.timestamp)) // 1000
    batches = unpack(record.value) if left_s > 0 else None
    out: list[Accepted] = []
    for batch in batches or []:
        partition, offset = batch.get("source_partition"), batch.get("source_offset")
        if not isinstance(partition, int) or not isinstance(offset, int):
            continue  # not written by the validate stage: it owns nothing
        owner = f"{partition}:{offset}"
        out += [
            (event["event_id"], owner, left_s)
            for event in batch["events"]
            # The claim scripts split on spaces: only contract ids may reach them.
            if isinstance(event["event_id"], str) and ID_PATTERN.fullmatch(event["event_id"])
        ]
    return out


class AcceptedFromKafka:
    """Reads the accepted events of the last ``settings.dedupe_hours`` from ``dojo.events``."""

    def __init__(
        self, settings: Settings, *, chunk: int = CHUNK, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.chunk = chunk
        self.clock = clock
        self.messages = 0  # read by the last pass, for the rebuild's log line

    async def chunks(self) -> AsyncIterator[list[Accepted]]:
        """Every accepted event of the window, ``chunk`` at a time, partition by partition."""
        now_ms = int(self.clock() * 1000)
        window_ms = self.settings.dedupe_hours * 3_600_000
        topic = self.settings.topic_events
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            # The worker starts only once the topics have this count (``ensure_topics``).
            tps = [TopicPartition(topic, p) for p in range(self.settings.partitions)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            firsts = await consumer.offsets_for_times({tp: now_ms - window_ms for tp in tps})
            due: dict[TopicPartition, int] = {}
            for tp in tps:
                first = firsts.get(tp)
                start = ends[tp] if first is None else first.offset
                if start < ends[tp]:
                    consumer.seek(tp, start)
                    due[tp] = ends[tp]
            self.messages = 0
            pending: list[Accepted] = []
            heard = time.monotonic()
            while due:
                fetched = await consumer.getmany(*due, timeout_ms=FETCH_MS, max_records=1000)
                if fetched:
                    heard = time.monotonic()
                elif time.monotonic() - heard > STALL_S:
                    raise KafkaTimeoutError(f"{topic} answered nothing for {STALL_S:.0f} s")
                for tp, records in fetched.items():
                    for record in records:
                        if record.offset < due[tp]:
                            self.messages += 1
                            pending += accepted_in(record, now_ms, window_ms)
                    if await consumer.position(tp) >= due[tp]:
                        del due[tp]
                while len(pending) >= self.chunk:
                    yield pending[: self.chunk]
                    pending = pending[self.chunk :]
            if pending:
                yield pending
        finally:
            await consumer.stop()

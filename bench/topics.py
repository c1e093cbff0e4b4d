"""Topic bookkeeping for benchmarks: end offsets, group progress, and deleting what we made."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import click
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


class Broker:
    """One admin client and one offset-reading consumer, opened once per benchmark."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
        self.offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> None:
        """Connect; a missing broker is a clear error, not a client traceback."""
        try:
            await self.admin.start()
            await self.offsets.start()
        except KafkaError as exc:
            await self.offsets.stop()
            raise click.ClickException(
                f"no Kafka broker answers at {self.bootstrap} ({exc.__class__.__name__}); "
                "start one with `make infra-up`, or run `make bench`, which does"
            ) from exc

    async def close(self) -> None:
        await self.offsets.stop()
        await self.admin.close()

    async def topics(self) -> list[str]:
        return list(await self.admin.list_topics())

    async def partitions(self, topic: str) -> list[TopicPartition]:
        described = await self.admin.describe_topics([topic])
        return [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]

    async def end_offsets(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        """Latest offset of every partition of ``topics``."""
        parts = [tp for topic in topics for tp in await self.partitions(topic)]
        if not parts:
            return {}
        ends: dict[TopicPartition, int] = await self.offsets.end_offsets(parts)
        return ends

    async def message_count(self, topics: Iterable[str]) -> int:
        """Messages written to ``topics`` (end offsets; our topics are never compacted)."""
        return sum((await self.end_offsets(topics)).values())

    async def committed(self, group: str, topic: str) -> int:
        """Sum of the group's committed offsets on ``topic`` (0 before its first commit)."""
        try:
            offsets = await self.admin.list_consumer_group_offsets(group)
        except KafkaError:
            return 0
        return sum(
            meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0
        )

    async def delete(self, names: Iterable[str]) -> list[str]:
        """Delete the named topics that exist; return what was deleted."""
        existing = set(await self.topics())
        doomed = sorted(set(names) & existing)
        if doomed:
            with contextlib.suppress(KafkaError):
                await self.admin.delete_topics(doomed)
        return doomed

    async def delete_prefixed(self, *prefixes: str) -> list[str]:
        """Delete every topic whose name starts with one of ``prefixes``."""
        names = [t for t in await self.topics() if t.startswith(prefixes)]
        return await self.delete(names)

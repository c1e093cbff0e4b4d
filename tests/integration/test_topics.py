"""Creating and deleting a deployment's topics on the real broker."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

from aiokafka.admin import AIOKafkaAdminClient

from stream.settings import Settings
from stream.topics import drop_topics, ensure_topics, topic_specs
from tests.integration.conftest import wait_for


async def _names(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_drop_topics_deletes_a_deployment_and_nothing_else(kafka_bootstrap: str) -> None:
    def deployment() -> Settings:
        run = uuid.uuid4().hex[:10]
        return replace(
            Settings(), kafka=kafka_bootstrap, topic_prefix=f"t{run}", app_id=f"dojo-test-{run}"
        )

    doomed, kept = deployment(), deployment()
    for settings in (doomed, kept):
        asyncio.run(ensure_topics(settings))
    expected = {spec.name for spec in topic_specs(doomed)}
    assert expected <= asyncio.run(_names(kafka_bootstrap))

    deleted = asyncio.run(drop_topics(doomed))

    assert set(deleted) == expected
    # The broker deletes asynchronously: its metadata catches up within moments.
    wait_for(lambda: not expected & asyncio.run(_names(kafka_bootstrap)), 30, "the topics to go")
    left = asyncio.run(_names(kafka_bootstrap))
    assert {spec.name for spec in topic_specs(kept)} <= left
    asyncio.run(drop_topics(kept))

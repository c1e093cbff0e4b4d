"""The backups card in Chromium: a backup the test makes shows, then a failure turns it red."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from stream.backup.clockwork import Clockwork
from stream.backup.schedule import cycle, tell
from stream.models.keys import Keys
from stream.settings import Secret, Settings
from stream.sinks.publish import SnapshotPublisher
from stream.topics import drop_topics, ensure_topics
from tests.browser.panel_page import (
    PHONE,
    XSS,
    assert_fits,
    log_in,
    resize,
    severe_errors,
    shoot,
    text,
    wait_for,
)
from tests.conftest import TEST_TOKEN
from tests.integration.test_backup_faults import fill

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Iterator[Settings]:
    """The feed's settings with topics of this test's own on the broker, and a backup dir."""
    base = Settings(redis_url=redis_url, data_dir=tmp_path / "data", partitions=1,
                    topic_prefix=f"t{uuid.uuid4().hex[:10]}", admin_token=Secret(TEST_TOKEN),
                    backup_dir=str(tmp_path / "backups"))  # fmt: skip
    asyncio.run(ensure_topics(base))
    yield base
    asyncio.run(drop_topics(base))


def told(settings: Settings, c: Clockwork) -> None:
    """One tick of the scheduler's publishing, into the feed's Redis."""

    async def once() -> None:
        redis = Redis.from_url(settings.redis_url)
        try:
            await tell(settings, SnapshotPublisher(redis, Keys.of(settings)), c, time.time())
        finally:
            await redis.aclose()

    asyncio.run(once())


def state(driver: Any) -> str:
    return str(
        driver.execute_script("return document.getElementById('backups-card').dataset.state")
    )


def test_the_card_shows_a_backup_made_by_the_test_and_turns_red_when_one_fails(
    browser: Any, feed: Any, settings: Settings, tmp_path: Path
) -> None:
    driver = browser
    log_in(driver, feed.url + "/", TEST_TOKEN)
    wait_for(lambda: text(driver, "backups-state") == "No backup yet", "the empty card")
    assert state(driver) == "none"

    asyncio.run(fill(settings, 30))
    c = Clockwork(started=time.time() - 120)
    asyncio.run(cycle(settings, c, time.time()))
    assert c.failure == "" and c.last_id
    made = [p.name for p in (tmp_path / "backups").iterdir()]
    assert made == [c.last_id]  # the card names the backup on disk
    told(settings, c)
    wait_for(lambda: text(driver, "backup-id") == c.last_id, "the backup's id on the card")
    assert text(driver, "backups-state") == "Backed up" and state(driver) == "good"
    assert text(driver, "backup-records") == "31"  # 30 records and a tombstone
    assert text(driver, "backup-verified") == "yes"
    assert text(driver, "backup-size").endswith(("B", "kB", "MB"))
    assert "ago" in text(driver, "backup-when") and "in 2" in text(driver, "backup-next")
    assert text(driver, "backup-drill") == "none yet"

    # A failure and a failed drill, their texts hostile: red, said as text, never markup.
    failed = replace(c, failure=f"KafkaConnectionError: {XSS}", drill_passed=False,
                     drill_detail=f"dojo.events/0: {XSS}", last_drill=time.time())  # fmt: skip
    told(settings, failed)
    wait_for(lambda: state(driver) == "bad", "the red card")
    assert text(driver, "backups-state") == f"Backup failed: KafkaConnectionError: {XSS}"
    assert text(driver, "backup-drill") == "failed"
    assert text(driver, "backup-drill-detail") == f"dojo.events/0: {XSS}"
    assert text(driver, "backup-id") == c.last_id  # the last good backup is still named
    wait_for(lambda: text(driver, "alerts-count") == "1", "the backup alert in the badge")
    assert driver.execute_script("return window.__xss === undefined")

    resize(driver, *PHONE)
    assert_fits(driver, "the backups card on a phone")
    driver.execute_script("document.getElementById('backups-card').scrollIntoView()")
    shoot(driver, tmp_path, "backups-phone")

    told(settings, replace(failed, failure="", drill_passed=True, drill_detail=""))
    wait_for(lambda: state(driver) == "good", "the card green again")
    badge_hidden = "return document.getElementById('alerts-badge').hidden"
    wait_for(lambda: bool(driver.execute_script(badge_hidden)), "the backup alert gone")
    assert severe_errors(driver) == []

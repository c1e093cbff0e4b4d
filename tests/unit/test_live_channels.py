"""Channel names and the pub/sub contract parsing."""

from __future__ import annotations

import pytest

from live_feed.channels import is_channel, parse_published
from stream.models.keys import Keys
from stream.settings import Settings

KEYS = Keys.of(Settings())


@pytest.mark.parametrize("name", ["traffic", "web_vitals", "a" * 32])
def test_valid_channel_names(name: str) -> None:
    assert is_channel(name)


@pytest.mark.parametrize("name", ["", "Traffic", "a" * 33, "x:y", "../", 3, None])
def test_invalid_channel_names(name: object) -> None:
    assert not is_channel(name)


def test_only_our_live_channels_are_parsed() -> None:
    ours, theirs = Keys.of(Settings()), Keys.of(Settings(app_id="another-pulse"))
    body = b'{"channel":"traffic","data":1,"ts":9}'
    assert parse_published(ours, ours.snapshot("traffic"), body) is None
    assert parse_published(ours, theirs.live("traffic"), body) is None
    assert parse_published(theirs, theirs.live("traffic"), body) is not None


def test_parse_published_builds_an_update() -> None:
    message = parse_published(
        KEYS, KEYS.live("traffic").encode(), b'{"channel":"traffic","data":{"a":1},"ts":9}'
    )
    assert message == {"channel": "traffic", "type": "update", "data": {"a": 1}, "ts": 9}


@pytest.mark.parametrize(
    ("channel", "payload"),
    [
        (KEYS.live("traffic").encode(), b"{not json"),
        (KEYS.live("traffic").encode(), b"[1, 2]"),
        (KEYS.live("traffic").encode(), b'{"channel": "forms", "data": 1}'),
        (KEYS.live("BAD").encode(), b'{"data": 1}'),
        (b"other:traffic", b'{"data": 1}'),
    ],
)
def test_parse_published_rejects_contract_breaches(channel: bytes, payload: bytes) -> None:
    assert parse_published(KEYS, channel, payload) is None

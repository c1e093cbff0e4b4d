"""Channel names and the pub/sub contract parsing."""

from __future__ import annotations

import pytest

from live_feed.channels import is_channel, parse_published, snapshot_key


@pytest.mark.parametrize("name", ["traffic", "web_vitals", "a" * 32])
def test_valid_channel_names(name: str) -> None:
    assert is_channel(name)


@pytest.mark.parametrize("name", ["", "Traffic", "a" * 33, "x:y", "../", 3, None])
def test_invalid_channel_names(name: object) -> None:
    assert not is_channel(name)


def test_snapshot_key() -> None:
    assert snapshot_key("forms") == "dojo:snapshot:forms"


def test_parse_published_builds_an_update() -> None:
    message = parse_published(b"dojo:live:traffic", b'{"channel":"traffic","data":{"a":1},"ts":9}')
    assert message == {"channel": "traffic", "type": "update", "data": {"a": 1}, "ts": 9}


@pytest.mark.parametrize(
    ("channel", "payload"),
    [
        (b"dojo:live:traffic", b"{not json"),
        (b"dojo:live:traffic", b"[1, 2]"),
        (b"dojo:live:traffic", b'{"channel": "forms", "data": 1}'),
        (b"dojo:live:BAD", b'{"data": 1}'),
        (b"other:traffic", b'{"data": 1}'),
    ],
)
def test_parse_published_rejects_contract_breaches(channel: bytes, payload: bytes) -> None:
    assert parse_published(channel, payload) is None

"""A message encoded once: its JSON and the one WebSocket frame every client is sent."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from live_feed.outgoing import Outgoing


def parse(frame: bytes) -> Frame:
    """Read ``frame`` back as a client would (unmasked, no extensions)."""
    reader = StreamReader()
    reader.feed_data(frame)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        parsed: Frame = done.value
        return parsed
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 100, 125, 126, 5_000, 70_000])
def test_the_frame_is_one_final_uncompressed_text_frame_of_the_json(size: int) -> None:
    out = Outgoing.of({"channel": "traffic", "type": "update", "data": "x" * size, "ts": 7})
    frame = parse(out.frame)
    assert frame.opcode is Opcode.TEXT
    assert frame.fin and not (frame.rsv1 or frame.rsv2 or frame.rsv3)
    assert frame.data == out.json
    assert out.text == out.json.decode()


def test_as_snapshot_keeps_the_data_and_changes_only_the_type() -> None:
    update = Outgoing.of({"channel": "forms", "type": "update", "data": {"n": 1}, "ts": 3})
    snapshot = update.as_snapshot()
    assert snapshot.message == {"channel": "forms", "type": "snapshot", "data": {"n": 1}, "ts": 3}
    assert parse(snapshot.frame).data == snapshot.json
    assert snapshot.as_snapshot() is snapshot
    assert (update.channel, update.ts, update.is_snapshot) == ("forms", 3, False)
    assert Outgoing.of({"type": "ping"}).channel == ""

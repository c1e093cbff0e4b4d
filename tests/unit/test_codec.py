"""One versioned checkpoint codec for every metric state: round trips, old bytes, bad bytes."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.forms import FormsState
from stream.metrics.funnels import FunnelsState
from stream.metrics.heatmaps import HeatmapsState
from stream.metrics.journeys import JourneysState
from stream.metrics.traffic import TrafficState
from stream.metrics.vitals import VitalsState
from stream.sketches import codec
from stream.sketches.codec import CheckpointError
from tests.unit.checkpoint_states import FUNNELS, LEGACY, NOW, states

KINDS = ("traffic", "forms", "vitals", "funnels", "journeys", "heatmaps")
LOADERS: dict[str, Any] = {
    "traffic": TrafficState.from_bytes,
    "forms": FormsState.from_bytes,
    "vitals": VitalsState.from_bytes,
    "funnels": lambda data: FunnelsState.from_bytes(data, FUNNELS),
    "journeys": JourneysState.from_bytes,
    "heatmaps": HeatmapsState.from_bytes,
}


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    return states()


def _payload(data: bytes) -> dict[str, Any]:
    envelope: dict[str, Any] = orjson.loads(zlib.decompress(data[len(codec.MAGIC) :]))
    return envelope


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_keeps_every_number(built: dict[str, Any], kind: str) -> None:
    state = built[kind]
    data = state.to_bytes()
    assert data.startswith(codec.MAGIC)
    assert _payload(data)["kind"] == kind
    restored = LOADERS[kind](data)
    assert restored.snapshot(NOW) == state.snapshot(NOW)
    assert restored.to_bytes() == data


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_of_the_format_before_the_codec_restores(kind: str) -> None:
    legacy = (LEGACY / f"{kind}.v1").read_bytes()
    assert not legacy.startswith(codec.MAGIC)  # really the old bytes: zlib JSON with "v": 1
    assert orjson.loads(zlib.decompress(legacy))["v"] == 1
    restored = LOADERS[kind](legacy)
    # The snapshot that code gave for the same run, frozen beside the bytes: the simulator's
    # site has changed since, so a state rebuilt today would fold other pages.
    expected = orjson.loads((LEGACY / "snapshots.json").read_bytes())[kind]
    assert orjson.loads(orjson.dumps(restored.snapshot(NOW))) == expected
    # Written again in the current version (which adds per-minute facts v1 never had),
    # it reads back to the same bytes.
    rewritten = restored.to_bytes()
    assert LOADERS[kind](rewritten).to_bytes() == rewritten


def test_traffic_checkpoint_holds_hll_and_records_datasketch(built: dict[str, Any]) -> None:
    traffic = built["traffic"]
    assert any(not d.counts.visitors.is_exact for d in traffic.days.values())
    libs = _payload(traffic.to_bytes())["libs"]
    assert libs == {"datasketch": codec.library_version("datasketch")}
    assert _payload(built["vitals"].to_bytes())["libs"] == {
        "ddsketch": codec.library_version("ddsketch")
    }
    assert _payload(built["journeys"].to_bytes())["libs"] == {}


@pytest.mark.parametrize("kind", KINDS)
def test_a_newer_version_is_refused_by_name(built: dict[str, Any], kind: str) -> None:
    payload = _payload(built[kind].to_bytes())
    newer = payload["v"] + 1
    data = codec.encode(kind, newer, payload["data"])
    with pytest.raises(CheckpointError, match=rf"{kind} checkpoint v{newer}: written by a newer"):
        LOADERS[kind](data)


def test_a_checkpoint_of_another_kind_is_refused(built: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError, match="holds 'forms' state, not 'vitals'"):
        VitalsState.from_bytes(built["forms"].to_bytes())


def test_another_library_version_is_refused_with_what_to_do(built: dict[str, Any]) -> None:
    envelope = _payload(built["traffic"].to_bytes())
    envelope["libs"] = {"datasketch": "1.5.0"}
    data = codec.MAGIC + zlib.compress(orjson.dumps(envelope))
    with pytest.raises(CheckpointError, match=r"written with datasketch 1\.5\.0, this worker has"):
        TrafficState.from_bytes(data)
    envelope["libs"] = {"no-such-library": "1"}
    data = codec.MAGIC + zlib.compress(orjson.dumps(envelope))
    with pytest.raises(CheckpointError, match="this worker has no-such-library nothing"):
        TrafficState.from_bytes(data)


HOSTILE = [
    b"",
    b"\x00" * 64,
    b"DJCK",
    b"DJCK" + b"\xff" * 40,
    zlib.compress(b"not json"),
    zlib.compress(b"[1, 2, 3]"),
    zlib.compress(b'{"v": 1}'),
    zlib.compress(b'{"v": "1"}'),
    codec.MAGIC + zlib.compress(b'{"kind": "traffic", "v": 1}'),
    codec.MAGIC + zlib.compress(b'{"kind": "traffic", "v": 1, "libs": [], "data": {}}'),
    codec.encode("traffic", 1, {"hosts": 5}),
    codec.encode("traffic", 1, []),
    codec.encode("traffic", 1, None),
    codec.encode("traffic", 0, {}),
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_bytes_are_a_clear_error(data: bytes) -> None:
    with pytest.raises(CheckpointError, match="traffic checkpoint"):
        TrafficState.from_bytes(data)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_and_flipped_checkpoints_are_a_clear_error(
    built: dict[str, Any], kind: str
) -> None:
    data = built[kind].to_bytes()
    for bad in (data[: len(data) // 2], data[:-1], data[:8] + bytes([data[8] ^ 0xFF]) + data[9:]):
        with pytest.raises(CheckpointError, match=kind):
            LOADERS[kind](bad)


def test_broken_sketches_inside_a_valid_envelope_are_a_clear_error(built: dict[str, Any]) -> None:
    raw = _payload(built["traffic"].to_bytes())["data"]
    minute = next(iter(raw["minutes"]))
    for sketch in ("!!not base64!!", codec.to_text(b"H" + b"\x01" * 10), codec.to_text(b"Z")):
        raw["minutes"][minute][1] = sketch
        with pytest.raises(CheckpointError, match="traffic checkpoint v1 is corrupt"):
            TrafficState.from_bytes(codec.encode("traffic", 1, raw, ["datasketch"]))
    vitals = _payload(built["vitals"].to_bytes())["data"]
    day = next(iter(vitals["site"]))
    metric = next(iter(vitals["site"][day]))
    # More bins announced than the bytes hold, and a header cut short.
    for sketch in (struct.pack("<dII", 0.0, 65535, 0) + b"\x00" * 9, b"\x00" * 5):
        vitals["site"][day][metric][3] = codec.to_text(sketch)
        with pytest.raises(CheckpointError, match="vitals checkpoint v1 is corrupt"):
            VitalsState.from_bytes(codec.encode("vitals", 1, vitals, ["ddsketch"]))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_restore_or_fail_cleanly(data: bytes) -> None:
    for loader in (TrafficState.from_bytes, JourneysState.from_bytes):
        with pytest.raises(CheckpointError):
            loader(data)
    with pytest.raises(CheckpointError):
        JourneysState.from_bytes(codec.MAGIC + data)


def test_readers_get_their_own_version() -> None:
    data = codec.encode("demo", 3, {"n": 1})
    readers = {1: lambda d: ("one", d), 3: lambda d: ("three", d["n"])}
    assert codec.decode("demo", data, readers) == ("three", 1)
    with pytest.raises(CheckpointError, match=r"demo checkpoint v3: .*reads v1, 2"):
        codec.decode("demo", data, {1: print, 2: print})

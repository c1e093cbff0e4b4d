"""Backup files on their own: frames, the container (plain and sealed), retention, manifest."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.backup.container import (
    CHUNK,
    ContainerError,
    ContainerReader,
    ContainerWriter,
    key_id,
    parse_key,
)
from stream.backup.frames import Frame, FrameError, decode, encode
from stream.backup.manifest import Manifest, ManifestError, Part, Topic, load
from stream.backup.retention import doomed, keep

KEY = parse_key("A" * 43 + "=")
OTHER_KEY = parse_key("B" * 43 + "=")

frames = st.builds(
    Frame,
    offset=st.integers(0, 2**62),
    timestamp=st.integers(-1, 2**62),
    timestamp_type=st.integers(0, 1),
    key=st.none() | st.binary(max_size=64),
    value=st.none() | st.binary(max_size=512),
    headers=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=3).map(
        tuple
    ),
)


def _bytes(frame: Frame) -> bytes:
    return encode(frame.offset, frame.timestamp, frame.timestamp_type, frame.key, frame.value,
                  frame.headers)  # fmt: skip


@given(st.lists(frames, max_size=20))
def test_frames_round_trip_every_record_exactly(records: list[Frame]) -> None:
    data = b"".join(_bytes(f) for f in records)
    assert list(decode(io.BytesIO(data))) == records


@given(st.lists(frames, min_size=1, max_size=5), st.data())
def test_a_frame_cut_anywhere_is_refused(records: list[Frame], data: st.DataObject) -> None:
    whole = b"".join(_bytes(f) for f in records)
    last = len(_bytes(records[-1]))
    cut = data.draw(st.integers(len(whole) - last + 1, len(whole) - 1))
    with pytest.raises(FrameError):
        list(decode(io.BytesIO(whole[:cut])))


def test_an_impossible_length_is_refused() -> None:
    head = _bytes(Frame(1, 2, 0, None, b"x"))
    hostile = head[:17] + (-7).to_bytes(4, "big", signed=True) + head[21:]
    with pytest.raises(FrameError, match="impossible length"):
        list(decode(io.BytesIO(hostile)))


def _write(path: Path, payload: bytes, key: bytes | None, backup_id: str = "b1") -> None:
    out = ContainerWriter(path, backup_id, key)
    for start in range(0, len(payload), 100_000):
        out.write(payload[start : start + 100_000])
    written = out.close()
    assert written.bytes == path.stat().st_size


def _read(path: Path, key: bytes | None, backup_id: str = "b1") -> bytes:
    with ContainerReader(path, backup_id, key) as source:
        return source.read()


PAYLOAD = os.urandom(CHUNK // 2) + b"dojo " * CHUNK  # more than 2 sealed chunks


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "sealed"])
def test_container_round_trip(tmp_path: Path, key: bytes | None) -> None:
    path = tmp_path / "f.zst"
    _write(path, PAYLOAD, key)
    assert _read(path, key) == PAYLOAD
    assert path.stat().st_size < len(PAYLOAD)  # compressed
    if key is not None:
        assert b"dojo dojo" not in path.read_bytes()  # sealed: no plain text on disk


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "sealed"])
@pytest.mark.parametrize("where", [0.3, 0.6, 0.99])
def test_a_flipped_byte_is_found(tmp_path: Path, key: bytes | None, where: float) -> None:
    path = tmp_path / "f.zst"
    _write(path, PAYLOAD, key)
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ContainerError, match=r"f\.zst"):
        _read(path, key)


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "sealed"])
@pytest.mark.parametrize("keep_share", [0.0, 0.5, 0.999])
def test_a_truncated_file_is_found(tmp_path: Path, key: bytes | None, keep_share: float) -> None:
    path = tmp_path / "f.zst"
    _write(path, PAYLOAD, key)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep_share)])
    with pytest.raises(ContainerError, match=r"f\.zst (is cut short|is not a Dojo)"):
        _read(path, key)


def test_a_file_of_another_backup_is_named(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    _write(path, b"x", None, backup_id="other-backup")
    with pytest.raises(ContainerError, match="belongs to backup 'other-backup'"):
        _read(path, None)


def test_sealed_files_need_their_own_key(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    _write(path, PAYLOAD, KEY)
    with pytest.raises(ContainerError, match="DOJO_BACKUP_KEY"):
        _read(path, None)
    with pytest.raises(ContainerError, match="another key"):
        _read(path, OTHER_KEY)
    assert key_id(KEY) != key_id(OTHER_KEY)
    assert KEY.hex() not in key_id(KEY)


@pytest.mark.parametrize("text", ["", "short", "A" * 44, "é" * 44, "A" * 42 + "==", "!" * 44])
def test_hostile_keys_are_refused(text: str) -> None:
    with pytest.raises(ContainerError, match="32 bytes"):
        parse_key(text)


@pytest.mark.parametrize("junk", [b"", b"DPBK", b"\x00" * 100, "héllo".encode("latin-1")])
def test_hostile_files_are_refused(tmp_path: Path, junk: bytes) -> None:
    path = tmp_path / "f.zst"
    path.write_bytes(junk)
    with pytest.raises(ContainerError, match="not a Dojo Pulse backup file"):
        _read(path, None)


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def test_retention_keeps_the_newest_of_each_day_week_and_month() -> None:
    # Two backups a day for 120 days, ending 2026-12-02 (a Wednesday).
    backups = [(f"b{n}", _ms("2026-08-05") + n * 12 * 3_600_000 + 60_000) for n in range(240)]
    kept = keep(backups, daily=7, weekly=4, monthly=6)
    ids = {b for b, _ in backups}
    newest = {b: ms for b, ms in backups}
    days = {datetime.fromtimestamp(newest[b] / 1000, UTC).date() for b in kept}
    # 7 days, + weekly and monthly ones beyond them; every kept one is a day's last.
    assert len([d for d in days if d >= datetime(2026, 11, 26).date()]) == 7
    assert all(int(b[1:]) % 2 == 1 for b in kept)  # the later of each day's two
    assert "b239" in kept
    assert set(doomed(backups, 7, 4, 6)) == ids - kept
    # 7 days (Nov 26 - Dec 2); ISO weeks add Nov 22 and Nov 15 (the other two weeks' last
    # days are among the 7); months add Oct 31, Sep 30, Aug 31 (only 5 months exist).
    extra = sorted(d.isoformat() for d in days if d < datetime(2026, 11, 26).date())
    assert extra == ["2026-08-31", "2026-09-30", "2026-10-31", "2026-11-15", "2026-11-22"]
    assert len(kept) == 12


def test_retention_always_keeps_the_newest_even_at_zero() -> None:
    backups = [("old", _ms("2026-01-01")), ("new", _ms("2026-02-01"))]
    assert keep(backups, 0, 0, 0) == {"new"}
    assert doomed(backups, 0, 0, 0) == ["old"]
    assert keep([], 7, 4, 6) == set()


def _manifest(directory: Path, backup_id: str) -> Manifest:
    m = Manifest(backup_id, 1, "dojo", "dojo-pulse")
    m.topics = [Topic("dojo.events", 1, 1, {"retention.ms": "1"}, [Part(0, "topics/x")])]
    m.files = {"topics/x": {"sha256": "0" * 64, "bytes": 0}}
    directory.mkdir()
    m.save(directory)
    return m


def test_manifest_round_trips_and_names_a_foreign_one(tmp_path: Path) -> None:
    saved = _manifest(tmp_path / "b1", "b1")
    assert load(tmp_path / "b1") == saved
    _manifest(tmp_path / "b2", "b2")
    (tmp_path / "b2" / "manifest.json").replace(tmp_path / "b1" / "manifest.json")
    with pytest.raises(ManifestError, match="belongs to backup 'b2'"):
        load(tmp_path / "b1")


@pytest.mark.parametrize(
    "body", [b"", b"[]", b"null", b"1", b'"x"', b"{}", b'{"id": 1}', b"\xff\xfe", b"{" * 10_000]
)
def test_hostile_manifests_are_refused(tmp_path: Path, body: bytes) -> None:
    (tmp_path / "b1").mkdir()
    (tmp_path / "b1" / "manifest.json").write_bytes(body)
    with pytest.raises(ManifestError, match="b1"):
        load(tmp_path / "b1")


@settings(max_examples=30)
@given(st.dictionaries(st.text(max_size=8), st.none() | st.integers(-(2**63), 2**63 - 1)
    | st.text() | st.lists(st.integers(0, 9), max_size=2) | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False), max_size=6))  # fmt: skip
def test_manifests_of_any_json_shape_are_refused_cleanly(tmp_path_factory: pytest.TempPathFactory,
                                                         raw: dict[str, object]) -> None:  # fmt: skip
    import orjson

    directory = tmp_path_factory.mktemp("b") / "b1"
    directory.mkdir()
    (directory / "manifest.json").write_bytes(orjson.dumps({"topics": [], **raw}))
    with pytest.raises(ManifestError, match="b1"):
        load(directory)


JSON_VALUES = [None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"a": 1}]


def _valid(tmp_path: Path) -> dict[str, object]:
    from dataclasses import asdict

    import orjson

    m = Manifest("b1", 1, "dojo", "dojo-pulse", store_file="store/sqlite.zst")
    m.topics = [Topic("dojo.events", 1, 1, {"retention.ms": "1"}, [Part(0, "topics/x")])]
    m.files = {"topics/x": {"sha256": "0" * 64, "bytes": 3}, "store/sqlite.zst": {"sha256": "1",
               "bytes": 1}}  # fmt: skip
    m.groups = {"g": {"dojo.events": {"0": 5}}}
    m.tables = {"history": 2}
    raw: dict[str, object] = orjson.loads(orjson.dumps(asdict(m)))
    return raw


def _load_raw(tmp_path: Path, raw: object) -> Manifest:
    import orjson

    directory = tmp_path / "b1"
    directory.mkdir(exist_ok=True)
    (directory / "manifest.json").write_bytes(orjson.dumps(raw))
    return load(directory)


def test_the_valid_manifest_of_these_tests_loads(tmp_path: Path) -> None:
    assert _load_raw(tmp_path, _valid(tmp_path)).tables == {"history": 2}


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
@pytest.mark.parametrize(
    "field",
    ["id", "created_ms", "topic_prefix", "app_id", "product_version", "format",
     "store_revision", "store_dialect", "store_file", "tables", "redis_file", "redis_keys",
     "sealed_by", "topics", "groups", "files", "finished_ms", "excluded"],
)  # fmt: skip
def test_every_json_type_in_every_field_is_refused_or_fits(
    tmp_path: Path, field: str, value: object
) -> None:
    raw = _valid(tmp_path)
    right = raw[field]
    raw[field] = value
    try:
        manifest = _load_raw(tmp_path, raw)
    except ManifestError as exc:
        assert str(exc).startswith("b1: ")
        return
    # Accepted only when the value has the field's own type (and so means the same).
    fits = type(value) is type(right) or (right is None and isinstance(value, str))
    assert fits and getattr(manifest, field) == value, (field, value)


@pytest.mark.parametrize(
    "name", ["../outside", "/etc/passwd", "topics/../../x", "manifest.json", "a\\b", "", "a\x00"]
)
def test_file_names_that_leave_the_backup_are_refused(tmp_path: Path, name: str) -> None:
    raw = _valid(tmp_path)
    files = raw["files"]
    assert isinstance(files, dict)
    files[name] = {"sha256": "2", "bytes": 1}
    with pytest.raises(ManifestError, match="wrong files"):
        _load_raw(tmp_path, raw)


@pytest.mark.parametrize("where", ["part", "store"])
def test_a_part_or_store_not_among_the_files_is_refused(tmp_path: Path, where: str) -> None:
    raw = _valid(tmp_path)
    files = raw["files"]
    assert isinstance(files, dict)
    del files["topics/x" if where == "part" else "store/sqlite.zst"]
    with pytest.raises(ManifestError, match="is not among its files"):
        _load_raw(tmp_path, raw)

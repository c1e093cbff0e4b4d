"""Hostile input to the store: odd channel names, wrong types, bad tallies, corrupt rows."""

from __future__ import annotations

import math
import zlib

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from stream.sketches import codec
from stream.sketches.tally import Tally, TallyError
from stream.store import history
from stream.store.history import DAY_MS, HISTORY, MINUTE_MS, MinuteRow
from tests.store.minutes import DAY0, tally

NOW = DAY0 + DAY_MS
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ODD_BUT_FINE = [
    'it\'s "quoted"',
    "x'); DROP TABLE history; --",
    "трафик 🚀 流量",
    "back\\slash %_ wildcards",
    "c" * history.MAX_CHANNEL,
]
REFUSED = [
    "",
    "c" * (history.MAX_CHANNEL + 1),
    "nul\x00byte",
    "new\nline",
    "\x1b[31m",
    None,
    1,
    1.5,
    True,
    b"x",
    ["x"],
    {"a": 1},
]


def row_from_record(record: object) -> MinuteRow:
    """A closed-minute record (history contract, section 1) as a row, as a consumer reads it."""
    if not isinstance(record, dict):
        raise ValueError("a record is an object")
    return MinuteRow(
        record.get("channel"),
        record.get("start"),
        record.get("part"),
        Tally.from_wire(record.get("tally")),
    )  # type: ignore[arg-type]


def test_odd_channel_names_are_stored_as_they_are(store: sa.Engine) -> None:
    rows = [MinuteRow(name, DAY0, 0, tally(i + 1, [])) for i, name in enumerate(ODD_BUT_FINE)]
    assert history.write_minutes(store, rows, now_ms=NOW) == len(rows)
    assert history.channels(store) == sorted(ODD_BUT_FINE)
    for i, name in enumerate(ODD_BUT_FINE):
        [(_, day)] = history.read(store, name, "day", 0, NOW)
        assert day.counts == {"views": i + 1}
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(HISTORY)).scalar() == 3 * len(
            rows
        )


@pytest.mark.parametrize("channel", REFUSED, ids=repr)
def test_unusable_channel_names_are_refused_with_a_value_error(
    store: sa.Engine, channel: object
) -> None:
    with pytest.raises(ValueError, match="channel"):
        MinuteRow(channel, DAY0, 0, tally(1, []))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channel"):
        history.read(store, channel, "minute", 0, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [("start", v) for v in (None, True, "0", 1.5, [], {}, -MINUTE_MS, DAY0 + 1, 2**53 + MINUTE_MS)]
    + [("part", v) for v in (None, True, "0", 1.5, [], {}, -1, 2**31)]
    + [("tally", v) for v in (None, {}, "x", [], 3, {"counts": {"views": 1}})],
    ids=repr,
)
def test_rows_of_the_wrong_shape_are_refused(field: str, value: object) -> None:
    fields: dict[str, object] = {"channel": "traffic", "start": DAY0, "part": 0, "tally": Tally()}
    with pytest.raises(ValueError, match=field):
        MinuteRow(**{**fields, field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [math.nan, math.inf, -math.inf, 2**63, 1e300])
def test_counts_json_cannot_hold_are_refused(count: float) -> None:
    with pytest.raises(ValueError, match="count"):
        MinuteRow("traffic", DAY0, 0, Tally(counts={"views": count}))


def test_write_takes_only_minute_rows(store: sa.Engine) -> None:
    with pytest.raises(TypeError, match="MinuteRow"):
        history.write_minutes(store, [("traffic", DAY0, 0, Tally())], now_ms=NOW)  # type: ignore[list-item]
    assert history.channels(store) == []


@pytest.mark.parametrize(
    ("size", "start", "end"),
    [
        ("week", 0, 1),
        ("", 0, 1),
        (None, 0, 1),
        ("minute'--", 0, 1),
        ("minute", -1, 1),
        ("minute", 0, 2**64),
        ("minute", "0", 1),
        ("minute", 0, 1.5),
        ("minute", None, 1),
    ],
)
def test_read_refuses_what_is_no_window(
    store: sa.Engine, size: object, start: object, end: object
) -> None:
    with pytest.raises(ValueError):
        history.read(store, "traffic", size, start, end)  # type: ignore[arg-type]


@given(channel=JSON, start=JSON, part=JSON, wire=JSON)
def test_any_json_record_is_a_row_or_a_value_error(
    channel: object, start: object, part: object, wire: object
) -> None:
    for record in ({"channel": channel, "start": start, "part": part, "tally": wire}, channel):
        try:
            row = row_from_record(record)
        except ValueError:  # TallyError is one
            continue
        assert isinstance(row.tally, Tally) and history.check_channel(row.channel) == row.channel


def test_tallies_from_the_wire_that_fail_are_not_stored(store: sa.Engine) -> None:
    good = tally(3, ["a"]).to_wire()
    bad_wires = [
        {**good, "counts": {"views": "3"}},
        {**good, "counts": {"views": True}},
        {**good, "uniques": {"visitors": "not base64!"}},
        {**good, "uniques": {"visitors": codec.to_text(b"H" + b"\x00" * 7)}},
        {**good, "quantiles": {"LCP": codec.to_text(b"\xff" * 5)}},
        {**good, "quantiles": ["LCP"]},
        "tally",
        None,
    ]
    for wire in bad_wires:
        record = {"channel": "traffic", "start": DAY0, "part": 0, "tally": wire}
        with pytest.raises(TallyError):
            history.write_minutes(store, [row_from_record(record)], now_ms=NOW)
    assert history.channels(store) == []
    ok = {"channel": "traffic", "start": DAY0, "part": 0, "tally": good}
    assert history.write_minutes(store, [row_from_record(ok)], now_ms=NOW) == 1


def test_a_corrupt_row_is_an_error_and_blocks_the_hour_it_is_in(store: sa.Engine) -> None:
    history.write_minutes(store, [MinuteRow("traffic", DAY0, 0, tally(1, ["a"]))], now_ms=NOW)
    with store.begin() as conn:
        conn.execute(sa.update(HISTORY).where(HISTORY.c.size == "minute").values(tally=b"junk"))
    with pytest.raises(codec.CheckpointError, match="corrupt"):
        history.read(store, "traffic", "minute", 0, NOW)
    late = MinuteRow("traffic", DAY0 + MINUTE_MS, 0, tally(5, ["b"]))
    with pytest.raises(codec.CheckpointError):
        history.write_minutes(store, [late], now_ms=NOW)
    # The failed write left nothing behind: the hour is still the one before it.
    [(_, hour)] = history.read(store, "traffic", "hour", 0, NOW)
    assert hour.counts == {"views": 1}
    assert len(history.read(store, "traffic", "hour", 0, NOW)) == 1


def test_a_tally_written_with_other_sketch_libraries_is_refused(store: sa.Engine) -> None:
    envelope = {
        "kind": "tally",
        "v": 1,
        "libs": {"datasketch": "0.0.1"},
        "data": tally(1, ["a"]).to_wire(),
    }
    blob = codec.MAGIC + zlib.compress(orjson.dumps(envelope))
    with store.begin() as conn:
        conn.execute(
            sa.insert(HISTORY).values(
                channel="traffic", size="day", start=DAY0, part=-1, tally=blob, updated_ms=0
            )
        )
    with pytest.raises(codec.CheckpointError, match=r"datasketch 0\.0\.1"):
        history.read(store, "traffic", "day", 0, NOW)


def test_a_large_tally_round_trips(store: sa.Engine) -> None:
    big = tally(1, [f"v{i}" for i in range(20_000)])  # past the exact limit: a HyperLogLog
    big.counts.update({f"pages./p/{i}": i for i in range(5_000)})
    history.write_minutes(store, [MinuteRow("traffic", DAY0, 0, big)], now_ms=NOW)
    [(_, day)] = history.read(store, "traffic", "day", 0, NOW)
    assert day.summary() == big.summary()

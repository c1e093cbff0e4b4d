"""A history.minutes record becomes a store row, or a reason to skip it; never an exception."""

from __future__ import annotations

import doctest
import json
from typing import Any

import orjson
import pytest

import stream.history.records
from stream.history.records import REASONS, RecordError, decode
from stream.sketches.quantiles import Quantiles
from stream.sketches.tally import Tally
from stream.sketches.uniques import Uniques, fingerprint

JSON_TYPES: list[Any] = [None, True, False, 0, -1, 1.5, "", "x", [], {}, [1], {"a": 1}]


def record(**fields: Any) -> bytes:
    body: dict[str, Any] = {"channel": "traffic", "start": 120_000, "part": 2}
    body["tally"] = {"counts": {"views": 3}}
    body.update(fields)
    # orjson writes no integer past 64 bits; json does, as a hostile producer would.
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def reason(value: bytes | None) -> str:
    with pytest.raises(RecordError) as caught:
        decode(value)
    assert str(caught.value) in REASONS
    return str(caught.value)


def test_a_closed_minute_decodes_with_its_sketches() -> None:
    tally = Tally(counts={"views": 4})
    tally.uniques["visitors"] = Uniques()
    tally.uniques["visitors"].add(fingerprint("v1"))
    tally.quantiles["LCP"] = Quantiles()
    tally.quantiles["LCP"].add(1200.0)
    row = decode(record(tally=tally.to_wire()))
    assert (row.channel, row.start, row.part) == ("traffic", 120_000, 2)
    assert row.tally.summary()["visitors"] == 1
    assert row.tally.summary()["LCP.n"] == 1


@pytest.mark.parametrize("value", [None, b""])
def test_tombstones_are_empty(value: bytes | None) -> None:
    assert reason(value) == "empty"


@pytest.mark.parametrize(
    "value", [b"{", b"\xff\xfe", b"nan", '{"channel": "\ud800"}'.encode("utf-8", "surrogatepass")]
)
def test_what_is_not_json_is_json(value: bytes) -> None:
    assert reason(value) == "json"


@pytest.mark.parametrize("body", [*JSON_TYPES[1:], {"channel": "traffic"}])
def test_what_is_not_a_record_is_shape(body: Any) -> None:
    assert reason(orjson.dumps(body)) == "shape"


def test_a_missing_field_is_shape() -> None:
    assert reason(record(tally=...)) == "shape"


@pytest.mark.parametrize(
    "channel",
    [*[v for v in JSON_TYPES if v != "x"], "Traffic", "traffic|0", "a" * 33, "x" * 10_000,
     "trafic\u0301", "\uff54raffic", "tra\x00ffic", "../etc", "1traffic", " traffic"],
)  # fmt: skip
def test_hostile_channels(channel: Any) -> None:
    assert reason(record(channel=channel)) == "channel"


@pytest.mark.parametrize(
    "start", [*[v for v in JSON_TYPES if v != 0], 120_001, -60_000, 2**63, 10**20, 1.2e5, "120000"]
)
def test_hostile_starts(start: Any) -> None:
    assert reason(record(start=start)) == "start"


@pytest.mark.parametrize("part", [*[v for v in JSON_TYPES if v != 0], 1 << 16, 2**64, 2.0])
def test_hostile_parts(part: Any) -> None:
    assert reason(record(part=part)) == "part"


@pytest.mark.parametrize(
    "tally",
    [*JSON_TYPES[:-3], [1], {"counts": []}, {"counts": {"views": "3"}}, {"counts": {"v": None}},
     {"counts": {"v": True}}, {"uniques": {"visitors": "not base64!"}},
     {"uniques": {"visitors": "AAAA"}}, {"quantiles": {"LCP": 5}}, {"counts": {"v": 2**70}}],
)  # fmt: skip
def test_hostile_tallies(tally: Any) -> None:
    assert reason(record(tally=tally)) == "tally"


@pytest.mark.parametrize("count", [b"1e308", b"-1e308", b"18446744073709551615"])
def test_counts_past_what_a_sum_survives_are_refused(count: bytes) -> None:
    assert reason(record().replace(b'"views": 3', b'"views": ' + count)) == "tally"


def test_an_infinite_count_is_not_json() -> None:
    assert reason(record().replace(b'"views": 3', b'"views": 1e999')) == "json"


def test_an_empty_tally_is_a_minute_with_nothing_in_it() -> None:
    assert decode(record(tally={})).tally.is_empty()


def test_a_huge_record_is_read_without_harm() -> None:
    counts = {f"pages./p{i}": i for i in range(20_000)}
    assert len(decode(record(tally={"counts": counts})).tally.counts) == 20_000


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(stream.history.records).failed == 0

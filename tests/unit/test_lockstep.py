"""A take of raw partitions goes on in receive order, never one partition ahead of another."""

from __future__ import annotations

import doctest
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import stream.ingest.lockstep
from stream.ingest.lockstep import in_step, received_at


@dataclass(frozen=True)
class Rec:
    offset: int
    value: bytes | None


def run(first: int, *times: int) -> list[Rec]:
    return [Rec(first + i, orjson.dumps({"received_at": t})) for i, t in enumerate(times)]


def test_the_partition_ahead_waits_for_the_one_behind() -> None:
    # A backfill: partition 0's run spans hours, partition 1's only the first of them.
    fetched = {0: run(0, 10, 20, 3_600, 7_200), 1: run(40, 15, 25, 30)}
    take, kept, again, reached = in_step(fetched)
    assert [(r.offset, received_at(r.value)) for r in take] == [
        (0, 10), (40, 15), (1, 20), (41, 25), (42, 30)
    ]  # fmt: skip
    assert kept == {0: fetched[0][:2], 1: fetched[1]}
    assert again == {0: 2}  # read again from the first record not taken
    assert reached == {0: 20, 1: 30}


def test_a_partition_whose_fetch_is_on_the_way_holds_the_others_back() -> None:
    # After a seek, partition 1's next run came alone: partition 0 still has hours to read.
    fetched = {1: run(40, 15, 25, 3_600)}
    take, kept, again, reached = in_step(fetched, behind={0: 20})
    assert kept == {1: fetched[1][:1]}
    assert [r.offset for r in take] == [40] and again == {1: 41} and reached == {1: 15}
    take, _, again, _ = in_step(fetched, behind={0: 10})  # nothing goes on: read all again
    assert take == [] and again == {1: 40}


def test_a_lone_partition_and_an_empty_take_go_whole() -> None:
    records = run(5, 30, 10, 20)  # not in order: a session's batches keep theirs
    assert in_step({3: records}) == (records, {3: records}, {}, {3: 30})
    assert in_step({}) == ([], {}, {}, {})


def test_ties_keep_each_partition_in_order() -> None:
    take, _, again, _ = in_step({0: run(0, 5, 5), 1: run(0, 5, 5)})
    assert [r.offset for r in take] == [0, 1, 0, 1] and again == {}


@pytest.mark.parametrize(
    "value",
    [None, b"", b"\xff\xfe", b"[1]", b'"x"', b"null", b"1e999", b'{"received_at": "5"}',
     b'{"received_at": true}', b'{"received_at": 1.5}', b'{"received_at": null}',
     b'{"received_at": [5]}', b'{"received_at": {"a": 5}}', b"{" * 10_000],
)  # fmt: skip
def test_a_value_without_a_time_goes_with_its_partitions_last(value: bytes | None) -> None:
    assert received_at(value) == 0
    bad = [*run(0, 10), Rec(1, value), *run(2, 50)]
    take, kept, again, _ = in_step({0: bad, 1: run(9, 30)})
    # The bad record counts as received with the one before it; the screen rejects it.
    assert [r.offset for r in take] == [0, 1, 9] and again == {0: 2}
    assert kept == {0: bad[:2], 1: run(9, 30)}


@given(
    st.dictionaries(
        st.integers(0, 5),
        st.lists(st.integers(0, 100), min_size=1, max_size=20).map(sorted),
        min_size=1,
        max_size=4,
    )
)
def test_every_take_moves_on_and_re_reads_exactly_what_it_left(times: dict[int, list[int]]) -> None:
    fetched = {p: run(p * 1000, *ts) for p, ts in times.items()}
    take, kept, again, _ = in_step(fetched)
    assert take  # the partition furthest behind is always taken whole
    cut = min(ts[-1] for ts in times.values())
    assert [received_at(r.value) for r in take] == sorted(
        t for ts in times.values() for t in ts if t <= cut
    )
    for p, records in fetched.items():
        n = len(kept.get(p, []))
        assert kept.get(p, []) == records[:n]  # a prefix: commits stay exact
        assert again.get(p) == (records[n].offset if n < len(records) else None)


def test_the_docstring_example_runs() -> None:
    assert doctest.testmod(stream.ingest.lockstep).failed == 0

"""A take of raw partitions goes on in receive order, never one partition ahead of another."""

from __future__ import annotations

import doctest
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import stream.ingest.lockstep
from stream.ingest.lockstep import Ahead, in_step, received_at


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


def test_what_a_take_left_goes_first_in_the_next_without_a_fetch() -> None:
    ahead: Ahead[int, Rec] = Ahead()
    fetched = {0: run(0, 10, 20, 3_600, 7_200), 1: run(40, 15, 25, 30)}
    step = in_step(ahead.join(fetched, {}))
    ahead.keep(fetched, step.again, {0, 1})
    assert ahead.held == {0: fetched[0][2:]} and ahead.size(0) == 2 and ahead.size(1) == 0
    # Partition 1's next run arrives; partition 0 brought nothing new (consumer at offset 4).
    more = {1: run(43, 4_000, 8_000)}
    joined = ahead.join(more, {0: 4, 1: 45})
    assert joined == {0: fetched[0][2:], 1: more[1]} and not ahead
    step = in_step(joined)
    assert [(r.offset, received_at(r.value)) for r in step.take] == [
        (2, 3_600),
        (43, 4_000),
        (3, 7_200),
    ]
    assert step.again == {1: 44}


def test_a_held_run_is_joined_by_the_fetch_that_continues_it() -> None:
    ahead: Ahead[int, Rec] = Ahead()
    ahead.keep({0: run(0, 10, 20, 30)}, {0: 1}, {0})
    joined = ahead.join({0: run(3, 40)}, {0: 4})
    assert [r.offset for r in joined[0]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("fetched", "positions"),
    [
        ({}, {0: 0}),  # sent back to the last commit (a rebalance gave the partition back)
        ({}, {0: 1}),
        ({}, {}),  # no longer this consumer's partition
        ({}, {0: None}),  # position unknown
        ({}, {0: 9}),  # someone committed past the held run
        ({0: run(1, 20)}, {0: 2}),  # the consumer re-reads from inside the held run
        ({0: run(0, 10, 20, 30)}, {0: 3}),  # ... from the very first offset
        ({0: run(5, 60)}, {0: 6}),  # a gap between the held run and the fetch
    ],
)
def test_a_held_run_the_consumer_moved_away_from_is_dropped(
    fetched: dict[int, list[Rec]], positions: dict[int, int | None]
) -> None:
    ahead: Ahead[int, Rec] = Ahead()
    ahead.keep({0: run(0, 10, 20, 30)}, {0: 1}, {0})
    assert ahead.size(0) == 2
    joined = ahead.join(fetched, positions)
    assert joined == {k: v for k, v in fetched.items() if v}  # exactly what the consumer read
    assert not ahead


def test_only_assigned_partitions_are_held_and_drop_forgets() -> None:
    ahead: Ahead[int, Rec] = Ahead()
    records = {0: run(0, 10, 99), 1: run(7, 10, 99), 2: run(20, 50)}
    step = in_step(records)
    ahead.keep(records, step.again, {0})  # partition 1 moved away during the take
    assert ahead.held == {0: records[0][1:]}
    ahead.drop([0, 5])
    assert not ahead and ahead.join({}, {0: 2}) == {}


@given(
    st.dictionaries(
        st.integers(0, 3),
        st.lists(st.lists(st.integers(0, 50), max_size=6), min_size=1, max_size=5),
        min_size=1,
        max_size=4,
    )
)
def test_holding_takes_every_record_once_in_order(fetches: dict[int, list[list[int]]]) -> None:
    # Each partition's records arrive over several fetches (hostile: times out of order,
    # empty fetches). With the whole backlog in view, holding takes exactly what a consumer
    # seeking back to ``again`` takes; fetch by fetch, it still takes every record once and
    # each partition's in offset order.
    records = {p: run(p * 1000, *(t for f in fs for t in f)) for p, fs in fetches.items()}

    def seeking() -> list[int]:
        position = dict.fromkeys(records, 0)
        out: list[int] = []
        while any(position[p] < len(records[p]) for p in records):
            fetched = {p: rs[position[p] :] for p, rs in records.items() if position[p] < len(rs)}
            step = in_step(fetched)
            out += [r.offset for r in step.take]
            for p, kept in step.kept.items():
                position[p] += len(kept)
        return out

    def holding(chunked: bool) -> list[int]:
        ahead: Ahead[int, Rec] = Ahead()
        chunks = {
            p: [len(f) for f in fs] if chunked else [len(records[p])] for p, fs in fetches.items()
        }
        sent = dict.fromkeys(records, 0)
        out: list[int] = []
        while any(chunks.values()) or ahead:
            fetched = {}
            for p, sizes in chunks.items():
                if sizes:
                    fetched[p] = records[p][sent[p] : sent[p] + sizes[0]]
                    sent[p] += sizes.pop(0)
            joined = ahead.join(fetched, {p: p * 1000 + sent[p] for p in records})
            step = in_step(joined)
            ahead.keep(joined, step.again, set(records))
            out += [r.offset for r in step.take]
        return out

    expected = seeking()
    assert sorted(expected) == sorted(r.offset for rs in records.values() for r in rs)
    assert holding(chunked=False) == expected
    taken = holding(chunked=True)
    assert sorted(taken) == sorted(expected)  # every record once
    for p in records:
        mine = [o for o in taken if o // 1000 == p]
        assert mine == sorted(mine)

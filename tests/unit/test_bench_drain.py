"""The bench's drain deadline grows with the data; /proc status and stat text is read right."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from bench import drain
from bench.drain import FLOOR_RATE, MARGIN, MIN_DEADLINE_S, START_S, deadline_s
from bench.process import family, family_kib, memory_kib, parent_of, status_kib
from stream.runtime.lighter import HOLDS

STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t  912340 kB
VmHWM:\t  401224 kB
VmRSS:\t  388100 kB
Threads:\t9
"""


def test_deadline_is_proportional_to_the_events_above_its_minimum() -> None:
    small, big = deadline_s(100_000), deadline_s(1_000_000)
    assert big == START_S + MARGIN * 1_000_000 / FLOOR_RATE
    assert big - START_S == pytest.approx(10 * (small - START_S))


def test_deadline_uses_a_measured_rate_when_there_is_one() -> None:
    assert deadline_s(1_000_000, rate=10_000.0) == START_S + MARGIN * 100
    assert deadline_s(1_000_000, rate=10_000.0) < deadline_s(1_000_000)


@pytest.mark.parametrize("rate", [None, 0.0, -5.0])
def test_deadline_falls_back_to_the_assumed_floor(rate: float | None) -> None:
    assert deadline_s(1_000_000, rate) == deadline_s(1_000_000)


@pytest.mark.parametrize("events", [0, -10, 1])
def test_deadline_never_drops_below_its_minimum(events: int) -> None:
    assert deadline_s(events) == MIN_DEADLINE_S
    assert deadline_s(events, rate=1e9) == MIN_DEADLINE_S


def test_status_text_gives_each_memory_figure_in_kib() -> None:
    assert status_kib(STATUS, "VmHWM") == 401_224
    assert status_kib(STATUS, "VmRSS") == 388_100


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing read
        "Name:\tpython\nState:\tZ (zombie)\nThreads:\t1\n",  # an exited process: no Vm lines
        "VmHWM:\tlots kB\n",
        "VmHWM:\t12 MB\n",
        "VmHWM:\t-5 kB\n",
        "VmHWM:\n",
        "VmHWM:\t1.5 kB\n",
        "VmHWMX:\t10 kB\n",  # another name that starts alike
        "\udcff\x00VmHWM",
    ],
)
def test_status_text_without_a_usable_figure_reads_as_zero(text: str) -> None:
    assert status_kib(text, "VmHWM") == 0


def test_stat_text_gives_the_parent_even_when_the_name_has_spaces_and_parens() -> None:
    assert parent_of("4242 (we (ird) name) S 17 4242 4242 0 -1") == 17


def test_this_process_and_its_family_have_memory() -> None:
    me = os.getpid()
    assert me in family(me)
    assert memory_kib(me, "VmHWM") >= memory_kib(me, "VmRSS") > 0
    assert family_kib([me]) >= memory_kib(me)


def test_a_process_that_is_gone_has_no_memory() -> None:
    gone = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 10_000_000
    assert memory_kib(gone, "VmHWM") == 0


class Described:
    """One answer of ``describe_consumer_groups`` (what ``holder_joined`` reads of it)."""

    def __init__(self, state: str, user_data: list[bytes]) -> None:
        self.state, self.user_data = state, user_data

    def to_object(self) -> dict[str, Any]:
        members = [
            {"member_metadata": ConsumerProtocolMemberMetadata(0, ["raw"], data).encode()}
            for data in self.user_data
        ]
        return {"groups": [{"group": "g", "state": self.state, "members": members}]}


class Admin:
    def __init__(self, answer: Described) -> None:
        self.answer = answer

    async def describe_consumer_groups(self, groups: list[str]) -> list[Described]:
        return [self.answer]


@pytest.mark.parametrize(
    ("state", "user_data", "settled"),
    [
        ("Stable", [b"", HOLDS], True),
        ("Stable", [b"", b""], False),  # the holder has not joined again yet
        ("PreparingRebalance", [b"", HOLDS], False),
        ("Stable", [b"held", b"HOLDS"], False),
    ],
)
def test_a_drain_waits_for_the_holder_to_join_the_validate_group_again(
    state: str, user_data: list[bytes], settled: bool
) -> None:
    broker: Any = SimpleNamespace(admin=Admin(Described(state, user_data)))
    assert asyncio.run(drain.holder_joined(broker, "g")) is settled


def test_only_agent_sets_with_learners_and_validation_wait_for_the_holder() -> None:
    assert drain.learns(("all",)) and drain.learns(("validate", "learning"))
    assert not drain.learns(("validate", "traffic"))

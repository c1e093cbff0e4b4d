"""The figures a drill compares, counted from ``dojo.events`` values and read from snapshots."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream.backup.figures import FIGURES, count, in_flight, judge, shown
from stream.backup.manifest import Manifest, Part, Topic

DAY = 86_400_000
NOW = 1_900_000_000_000
TODAY = NOW - NOW % DAY


def bundle(*batches: dict[str, Any]) -> bytes:
    return orjson.dumps({"batches": list(batches)})


def batch(offset: int, *events: tuple[str, int], index: int = 0) -> dict[str, Any]:
    return {"source_partition": 0, "source_offset": offset, "source_index": index,
            "events": [{"type": t, "ts": ts} for t, ts in events]}  # fmt: skip


def test_today_s_views_starts_and_submits_each_batch_once() -> None:
    values = [
        bundle(
            batch(1, ("page_view", TODAY + 5), ("form_start", TODAY + 6)),
            batch(1, ("page_view", TODAY + 7), index=1),
        ),
        bundle(batch(1, ("page_view", TODAY + 5), ("form_start", TODAY + 6))),  # re-sent
        bundle(batch(2, ("form_submit", TODAY + 9), ("page_view", TODAY - 1))),  # yesterday
        bundle(batch(3, ("click", TODAY + 1), ("page_view", TODAY + DAY))),  # tomorrow
    ]
    assert count(values, NOW) == {"views today": 2, "form starts today": 1,
                                  "form submits today": 1}  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [None, b"", b"\xff\xfe", b"{", b"null", b"[]", b"7", b'"x"', b'{"batches": 1}',
     b'{"batches": [1, null, "x", []]}', b'{"batches": [{"events": {"type": "page_view"}}]}',
     b'{"batches": [{"events": [1, null, {"type": ["page_view"], "ts": 1}]}]}',
     b'{"batches": [{"events": [{"type": "page_view", "ts": "today"}]}]}',
     b'{"batches": [{"events": [{"type": "page_view", "ts": 1.5e12}]}]}',
     orjson.dumps({"batches": [{"events": [{"type": "x" * 100_000, "ts": TODAY}]}]})],
)  # fmt: skip
def test_values_that_are_not_bundles_count_nothing(value: bytes | None) -> None:
    assert count([value], NOW) == dict.fromkeys(FIGURES, 0)


def test_snapshots_give_the_same_figures_and_junk_counts_zero() -> None:
    traffic = {"today": {"views": 12, "visitors": 3}}
    forms = {"forms": [{"starts": 4, "submits": 2}, {"starts": 1, "submits": True},
                       "x", None, {"starts": "9", "submits": 1.5}]}  # fmt: skip
    assert shown(traffic, forms) == {"views today": 12, "form starts today": 5,
                                     "form submits today": 2}  # fmt: skip
    for junk in ({}, {"today": None}, {"today": [1]}, {"today": {"views": None}}):
        assert shown(junk, {"forms": "x"}) == dict.fromkeys(FIGURES, 0)


def test_each_figure_passes_or_fails_by_itself() -> None:
    want = {"views today": 10, "form starts today": 2, "form submits today": 1}
    got = {"views today": 10, "form starts today": 1, "form submits today": 3}
    assert judge(want, got, 0) == [
        "pass views today: restored 10, backup 10",
        "FAIL form starts today: restored 1, backup 2",
        "FAIL form submits today: restored 3, backup 1",
    ]
    # Raw requests in flight at the cut may add events on the restored stack, never remove.
    assert [line[:4] for line in judge(want, got, 5)] == ["pass", "FAIL", "pass"]


def test_in_flight_counts_raw_records_past_the_validate_offsets() -> None:
    raw = Topic("dojo.raw", 2, 1, {}, [Part(0, "r0", records=10, first=0, last=9, start=0, end=10),
                                       Part(1, "r1", records=4, first=2, last=5, start=2, end=6)])  # fmt: skip
    manifest = Manifest(id="b", created_ms=0, topic_prefix="dojo", app_id="a", topics=[raw],
                        groups={"v": {"dojo.raw": {"0": 7}}})  # fmt: skip
    assert in_flight(manifest, "dojo.raw", "v") == 3 + 4  # partition 1: nothing committed
    assert in_flight(manifest, "dojo.raw", "other") == 10 + 4
    assert in_flight(manifest, "dojo.events", "v") == 0

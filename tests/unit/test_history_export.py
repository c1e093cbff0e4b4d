"""The answer's shapes: CSV columns and times, relative change with zeros, chunked reads."""

from __future__ import annotations

import csv
import doctest
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy

import stream.history.export
from stream.history.export import answer, cell, change, filename, render, to_csv
from stream.history.query import Query
from stream.settings import Settings
from stream.sketches.tally import Tally
from stream.sketches.uniques import Uniques, fingerprint
from stream.store import open_store
from stream.store.history import MinuteRow, write_minutes

H = 3_600_000
T0 = 1_714_521_600_000  # 2024-05-01T00:00Z


def test_change_is_relative_and_null_where_there_was_nothing() -> None:
    now = {"views": 120.0, "new": 5.0, "gone": 0.0, "lcp.p75": None, "same": 3.0, "zero": 0.0}
    before = {"views": 100.0, "gone": 4.0, "lcp.p75": 2000.0, "same": 3.0, "zero": 0.0, "x": None}
    assert change(now, before) == {
        "gone": -1.0, "lcp.p75": None, "new": None, "same": 0.0, "views": 0.2, "x": None,
        "zero": None,
    }  # fmt: skip
    assert change({}, {}) == {}


def test_csv_has_sorted_columns_iso_times_and_blank_cells_for_missing_numbers() -> None:
    rows = [
        {"start": T0, "end": T0 + H, "views": 3.0, "lcp.p75": None},
        {"start": T0 + H, "end": T0 + 2 * H, "views": 2.5, "bounces": 1},
    ]
    table = list(csv.reader(io.StringIO(to_csv(rows).decode())))
    assert table == [
        ["start", "end", "bounces", "lcp.p75", "views"],
        ["2024-05-01T00:00:00Z", "2024-05-01T01:00:00Z", "", "", "3"],
        ["2024-05-01T01:00:00Z", "2024-05-01T02:00:00Z", "1", "", "2.5"],
    ]
    assert to_csv([]) == b"start,end\r\n"


@pytest.mark.parametrize("name", ["=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx"])
def test_header_cells_never_run_as_formulas(name: str) -> None:
    header = to_csv([{"start": T0, "end": T0 + H, f"{name}.starts": 1}]).decode().splitlines()[0]
    assert header.split(",")[2].strip('"').startswith("'")


def test_names_with_commas_quotes_and_unicode_stay_one_cell() -> None:
    name = 'sign,up "now" 🙂'
    table = list(csv.reader(io.StringIO(to_csv([{"start": T0, "end": T0, name: 1}]).decode())))
    assert table[0][2] == name and len(table[1]) == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (0, "0"), (3.0, "3"), (0.1, "0.1"), (1e20, "100000000000000000000")],
)
def test_cells(value: float | None, text: str) -> None:
    assert cell(value) == text


def test_file_names_hold_channel_interval_and_range() -> None:
    query = Query("traffic", "day", T0, T0 + 7 * 24 * H)
    assert filename(query) == "traffic-day-20240501T0000Z-20240508T0000Z.csv"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sqlalchemy.Engine]:
    engine = open_store(Settings(data_dir=tmp_path))
    yield engine
    engine.dispose()


def visitors(*ids: str) -> Tally:
    tally = Tally(counts={"views": float(len(ids))})
    tally.uniques["visitors"] = Uniques()
    for visitor in ids:
        tally.uniques["visitors"].add(fingerprint(visitor))
    return tally


def test_rows_total_and_previous_from_a_real_store(engine: sqlalchemy.Engine) -> None:
    now = T0 + 5 * H
    minutes = [
        MinuteRow("traffic", T0 - 3 * H, 0, visitors("a", "b")),  # the previous period
        MinuteRow("traffic", T0, 0, visitors("a", "b")),
        MinuteRow("traffic", T0, 1, visitors("b", "c")),
        MinuteRow("traffic", T0 + 2 * H + 60_000, 0, visitors("c")),
        MinuteRow("traffic", T0 + 4 * H, 0, visitors("z")),  # past the range
    ]
    write_minutes(engine, minutes, now_ms=now)
    body = answer(engine, Query("traffic", "hour", T0, T0 + 3 * H, compare=True))
    assert [(r["start"], r["views"], r["visitors"]) for r in body["rows"]] == [
        (T0, 4, 3), (T0 + 2 * H, 1, 1),
    ]  # fmt: skip
    assert body["total"] == {"views": 5, "visitors": 3}  # a union, not 3 + 1
    assert body["previous"]["from"] == T0 - 3 * H and body["previous"]["total"]["views"] == 2
    assert body["change"] == {"views": 1.5, "visitors": 0.5}
    rendered = render(engine, Query("traffic", "hour", T0, T0 + 3 * H, format="csv"))
    assert rendered.body.decode().splitlines()[1] == "2024-05-01T00:00:00Z,2024-05-01T01:00:00Z,4,3"
    assert (
        orjson.loads(render(engine, Query("traffic", "hour", T0, T0 + H)).body)["total"]["views"]
        == 4
    )


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(stream.history.export).failed == 0

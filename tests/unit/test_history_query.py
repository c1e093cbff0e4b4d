"""Every parameter of a history request is checked, and each mistake names its field."""

from __future__ import annotations

import doctest

import pytest

import stream.history.query
from stream.history.query import MAX_WINDOWS, Query, QueryError, asks_for_csv, parse, parse_time

DAY = 86_400_000
NOW = 1_714_521_600_000  # 2024-05-01T00:00Z
HOSTILE_TEXT = ["", " ", "null", "true", "[]", "{}", "-", "x" * 10_000, "١٢٣", "\uff12\uff10\uff12\uff14-05-01",
                "2024-05-01\x00", "\ud800", "0x10", "1e3", "NaN", "Infinity", "🙂"]  # fmt: skip


def refused(params: list[tuple[str, str]], channel: str = "traffic", **kw: object) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse(params, channel, now_ms=NOW, **kw)  # type: ignore[arg-type]
    body = caught.value.body()
    assert set(body) == {"error", "field"} and len(body["error"]) < 200
    return caught.value


@pytest.mark.parametrize(
    ("raw", "ms"),
    [("2024-05-01", NOW), ("2024-05-01T00:00:00Z", NOW), ("2024-05-01T02:00+02:00", NOW),
     ("2024-05-01T02:00 02:00", NOW), ("2024-05-01T00:00:00.000", NOW), (str(NOW), NOW),
     ("0", 0), ("2024-05-01T00:00:00.0009Z", NOW)],
)  # fmt: skip
def test_times_in_every_form_they_are_given(raw: str, ms: int) -> None:
    assert parse_time("from", raw) == ms


@pytest.mark.parametrize(
    "raw", [*HOSTILE_TEXT, "1969-12-31", "0001-01-01", "9999-12-31T23:59+00:00Z", "2024-13-01",
            "2024-02-30", "99999999999999999", "-1", "+1", "1_000", "2024-05-01T25:00"],
)  # fmt: skip
@pytest.mark.parametrize("field", ["from", "to"])
def test_hostile_times_are_refused_by_field(field: str, raw: str) -> None:
    base = {"from": "2024-04-01", "to": "2024-05-01"}
    error = refused(list((base | {field: raw}).items()))
    assert error.field == field
    assert len(raw) < 3 or raw not in str(error)  # what was sent is never echoed


def test_the_base_request_of_the_hostile_cases_is_fine() -> None:
    query = parse([("from", "2024-04-01"), ("to", "2024-05-01")], "traffic", now_ms=NOW)
    assert (query.interval, query.windows) == ("day", 30)


@pytest.mark.parametrize("raw", [*HOSTILE_TEXT, "Minute", "week", "minute ", "hours"])
def test_hostile_intervals(raw: str) -> None:
    assert refused([("interval", raw)]).field == "interval"


@pytest.mark.parametrize("raw", [*HOSTILE_TEXT, "Previous", "prev", "true", "1"])
def test_hostile_compares(raw: str) -> None:
    assert refused([("compare", raw)]).field == "compare"


@pytest.mark.parametrize("raw", [*HOSTILE_TEXT, "CSV", "xml", "json "])
def test_hostile_formats(raw: str) -> None:
    assert refused([("format", raw)]).field == "format"


@pytest.mark.parametrize(
    "channel", [*HOSTILE_TEXT, "Traffic", "traffic.csv", "../traffic", "a" * 33, "x" * 10_000]
)
def test_hostile_channels(channel: str) -> None:
    assert refused([], channel=channel, known=["traffic"]).field == "channel"


def test_an_unknown_channel_is_named_with_the_choices() -> None:
    error = refused([], channel="trafic", known=["forms", "traffic"])
    assert (error.field, str(error)) == (
        "channel",
        "no channel 'trafic'; choose from forms, traffic",
    )


@pytest.mark.parametrize("name", ["from", "to", "interval", "compare", "format"])
def test_a_parameter_given_twice_is_refused(name: str) -> None:
    assert refused([(name, "day"), (name, "day")]).field == name


def test_unknown_parameters_are_ignored() -> None:
    assert parse([("_", "123"), ("token", "x")], "traffic", now_ms=NOW).channel == "traffic"


@pytest.mark.parametrize(
    ("params", "field"),
    [([("from", "2024-05-02"), ("to", "2024-05-01")], "to"),
     ([("from", "2024-05-01"), ("to", "2024-05-01")], "to"),
     ([("from", "2024-06-01")], "from")],
)  # fmt: skip
def test_reversed_and_empty_ranges(params: list[tuple[str, str]], field: str) -> None:
    error = refused(params)
    assert (error.field, str(error)) == (field, "from must be before to")


def test_defaults_the_day_before_now_in_hours() -> None:
    query = parse([], "traffic", now_ms=NOW + 1)
    assert query == Query("traffic", "hour", NOW - DAY, NOW + 3_600_000, False, "json")


@pytest.mark.parametrize(
    ("days", "interval"), [(0.25, "minute"), (1, "hour"), (14, "hour"), (15, "day"), (3650, "day")]
)
def test_the_default_interval_fits_the_range(days: float, interval: str) -> None:
    query = parse([("from", str(NOW - int(days * DAY)))], "traffic", now_ms=NOW)
    assert query.interval == interval and query.windows <= MAX_WINDOWS


def test_the_range_widens_to_whole_windows() -> None:
    query = parse(
        [("from", "2024-05-01T10:30Z"), ("to", "2024-05-01T12:10Z"), ("interval", "hour")],
        "traffic", now_ms=NOW,
    )  # fmt: skip
    assert (query.start, query.end, query.windows) == (
        NOW + 10 * 3_600_000,
        NOW + 13 * 3_600_000,
        3,
    )


def test_too_many_windows_names_a_coarser_interval() -> None:
    error = refused([("from", "2024-01-01"), ("to", "2024-05-01"), ("interval", "minute")])
    assert error.field == "interval"
    assert (
        str(error)
        == "174240 minute windows are more than 5000: use interval=hour or a shorter range"
    )
    error = refused([("from", "2023-01-01"), ("to", "2024-05-01"), ("interval", "minute")])
    assert "use interval=day" in str(error)  # 11640 hours would not fit either


def test_exactly_the_cap_is_allowed() -> None:
    query = parse([("from", "0"), ("to", str(MAX_WINDOWS * 60_000)), ("interval", "minute")],
                  "traffic", now_ms=NOW)  # fmt: skip
    assert query.windows == MAX_WINDOWS


def test_a_range_too_long_for_days() -> None:
    error = refused([("from", "1970-01-01"), ("to", "9999-01-01")])
    assert error.field == "from" and "too long" in str(error)


def test_the_previous_period_is_as_long_and_just_before() -> None:
    query = parse([("from", "2024-04-01"), ("to", "2024-05-01"), ("compare", "previous")],
                  "traffic", now_ms=NOW)  # fmt: skip
    before = query.previous()
    assert (before.end, before.end - before.start) == (query.start, query.end - query.start)
    assert (
        refused([("from", "1970-01-02"), ("to", "1970-01-05"), ("compare", "previous")]).field
        == "compare"
    )


@pytest.mark.parametrize(
    ("accept", "csv"),
    [("text/csv", True), ("text/csv; charset=utf-8", True), ("application/json, text/csv", False),
     ("TEXT/CSV", True), ("*/*", False), ("", False), ("text/html,text/csv", True),
     ("x" * 100_000 + ",text/csv", False)],
)  # fmt: skip
def test_accept_asks_for_csv(accept: str, csv: bool) -> None:
    assert asks_for_csv(accept) is csv


def test_format_wins_over_accept() -> None:
    assert parse([("format", "json")], "traffic", now_ms=NOW, accept="text/csv").format == "json"
    assert parse([], "traffic", now_ms=NOW, accept="text/csv").format == "csv"


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(stream.history.query).failed == 0

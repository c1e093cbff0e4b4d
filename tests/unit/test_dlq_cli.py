"""``dojo-pulse dlq``: argument errors, reading dead letters defensively, the report, the replay plan.

Everything here runs without Kafka; tests/integration/test_dlq_tools.py runs the commands
against the real stack.
"""

from __future__ import annotations

from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dojo_pulse.cli import main
from dojo_pulse.dlq.letters import SHAPE, UNKNOWN_DEVICE, Letter, Position, printable, read_letter
from dojo_pulse.dlq.plan import plan, record
from dojo_pulse.dlq.replay import Outcome, dry_run_lines, summary_lines
from dojo_pulse.dlq.summary import WHOLE, Filters, Summary
from dojo_pulse.moment import parse_moment
from stream.ingest.contract import REASONS
from stream.ingest.screen import Position as RawPosition
from stream.ingest.screen import screen
from stream.models.raw import RawBatch
from tests.unit.test_contract import json_values

NOW = 1_764_000_000_000
AT = Position("dojo.events.dlq", 1, 42)


@pytest.mark.parametrize(
    "args",
    [
        ["dlq", "replay"],
        ["dlq", "replay", "--reason", "nope"],
        ["dlq", "replay", "--reason", "bot", "--wait", "-1"],
        ["dlq", "replay", "--reason", "bot", "--wait", "soon"],
        ["dlq", "replay", "--reason", "bot", "--since", "last tuesday"],
        ["dlq", "inspect", "--reason", ""],
        ["dlq", "inspect", "--since", "\x00"],
        ["dlq", "inspect", "--since", "9" * 50],
        ["dlq", "inspect", "--since", "2026-13-45"],
        ["dlq", "inspect", "--samples", "-1"],
        ["dlq", "inspect", "--samples", "101"],
        ["dlq", "inspect", "--samples", "3.5"],
        ["dlq", "inspect", "--bogus"],
        ["dlq", "inspect", "extra"],
        ["dlq", "inspect", "--field"],
        ["dlq", "nope"],
    ],
)
def test_argument_errors_are_one_line_and_exit_2(args: list[str]) -> None:
    # DOJO_KAFKA points nowhere: an error reached only after the arguments would show.
    result = CliRunner().invoke(main, args, env={"DOJO_KAFKA": "127.0.0.1:1"})
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert result.stdout == ""


def test_help_lists_both_commands() -> None:
    result = CliRunner().invoke(main, ["dlq", "--help"])
    assert result.exit_code == 0
    assert "inspect" in result.stdout and "replay" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - 7_200_000),
        ("7d", NOW - 7 * 86_400_000),
        ("90m", NOW - 5_400_000),
        (" 2h ", NOW - 7_200_000),
        ("2026-11-01", 1_793_491_200_000),
        ("2026-11-01T10:00:00+01:00", 1_793_523_600_000),
    ],
)
def test_moments(text: str, expected: int) -> None:
    assert parse_moment(text, now_ms=NOW) == expected


@pytest.mark.parametrize(
    "text", ["", "2", "h", "-2h", "2w", "12345h", "2h ago", "\u0662h", "x" * 10_000]
)
def test_other_moments_are_refused_with_a_short_message(text: str) -> None:
    with pytest.raises(click.BadParameter) as refused:
        parse_moment(text, now_ms=NOW)
    assert len(str(refused.value)) < 150


# -- reading a dead letter ------------------------------------------------------------------


def stored(**overrides: Any) -> dict[str, Any]:
    event = {"event_id": "evt_00000001", "type": "page_view", "ts": NOW - 3 * 3_600_000,
             "session_id": "sess_0000001", "url": "/events", "props": {"title": "Dojo"}}  # fmt: skip
    letter = {
        "reason": "too_old", "field": "ts", "detail": "event time is older than the accepted age",
        "payload": orjson.dumps(event).decode(), "truncated": False, "session_id": "sess_0000001",
        "visitor_id": "a1b2c3d4e5f60718", "received_at": NOW, "source_topic": "dojo.events.raw",
        "source_partition": 0, "source_offset": 7, "index": 0, "device": "mobile",
    }  # fmt: skip
    return letter | overrides


def read(value: Any, at: Position = AT) -> Letter | None:
    return read_letter(at, orjson.dumps(value))


def test_a_documented_letter_is_read() -> None:
    letter = read(stored())
    assert letter is not None
    assert (letter.reason, letter.field, letter.index) == ("too_old", "ts", 0)
    assert letter.source == Position("dojo.events.raw", 0, 7)
    assert read({k: v for k, v in stored().items() if k != "truncated"}) is not None  # default
    assert letter.device == "mobile"
    older = read({k: v for k, v in stored().items() if k != "device"})  # before letters kept it
    assert older is not None and older.device == UNKNOWN_DEVICE


@pytest.mark.parametrize(
    "device", ["", "phone", "MOBILE", "<img src=x>", "desktop\x00", "x" * 5000]
)
def test_a_device_outside_the_classes_is_read_as_unknown(device: str) -> None:
    letter = read(stored(device=device))
    assert letter is not None and letter.device == UNKNOWN_DEVICE


def test_the_shape_is_the_records() -> None:
    assert set(SHAPE) == set(stored())


@pytest.mark.parametrize("name", sorted(SHAPE))
@pytest.mark.parametrize("value", [None, True, 0, -1, 1.5, "", "x", [], {}, [1], {"a": 1}])
def test_any_json_type_in_any_field_is_read_or_refused_never_raises(name: str, value: Any) -> None:
    letter = read(stored(**{name: value}))
    fits = type(value) is SHAPE[name] and (name != "reason" or value in REASONS)
    fits = fits and not (name in ("source_partition", "source_offset") and value < 0)
    fits = fits and not (name == "index" and value < -1)
    assert (letter is not None) is fits


@pytest.mark.parametrize(
    "value", [b"", b"not json", b"\xff\xfe", b"[1]", b"null", b'"x"', b"{}", b"{" * 5000]
)
def test_bytes_that_are_not_a_letter_are_unreadable(value: bytes) -> None:
    assert read_letter(AT, value) is None
    assert read_letter(AT, None) is None


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(SHAPE)), value=json_values)
def test_random_json_in_a_field_never_raises(name: str, value: Any) -> None:
    letter = read(stored(**{name: value}))
    # Read only when the value has the documented type (bool is no int here).
    assert (letter is not None) <= (type(value) is SHAPE[name])


def test_printable_escapes_what_would_drive_a_terminal() -> None:
    shown = printable("a\x1b[2Jb\u202ec\nd\x00e\u200bf\u2028")
    assert shown == "a\\x1b[2Jb\\u202ec\\nd\\x00e\\u200bf\\u2028"
    assert printable("é" * 10, limit=4) == "éééé…"


# -- the report -----------------------------------------------------------------------------


def letters() -> list[Letter]:
    values = [stored(), stored(), stored(reason="schema", field="props.typed_value"),
              stored(reason="bot", field=""), stored(received_at=NOW - 9 * 86_400_000)]  # fmt: skip
    found = [read(v, Position("dojo.events.dlq", 0, n)) for n, v in enumerate(values)]
    assert all(found)
    return [letter for letter in found if letter is not None]


def test_counts_by_reason_and_field_with_bounded_samples() -> None:
    summary = Summary(samples=2)
    for letter in letters():
        summary.add(letter)
    summary.add_unreadable(Position("dojo.events.dlq", 1, 3))
    report = summary.to_json()
    assert report["by_reason"] == {"bot": 1, "schema": 1, "too_old": 3}
    assert report["by_field"] == {"bot": {"": 1}, "schema": {"props.typed_value": 1}, "too_old": {"ts": 3}}  # fmt: skip
    assert (report["total"], report["unreadable"]) == (5, 1)
    assert [s["at"] for s in report["samples"]["too_old"]] == ["dojo.events.dlq/0/1", "dojo.events.dlq/0/4"]  # fmt: skip
    assert "visitor_id" not in orjson.dumps(report).decode()
    assert "a1b2c3d4e5f60718" not in "\n".join(summary.lines("dojo.events.dlq"))
    text = summary.lines("dojo.events.dlq")
    assert text[0] == "dojo.events.dlq: 5 dead letters, 1 unreadable"
    assert any(line.startswith("bot") and WHOLE in line for line in text)
    assert "  dojo.events.dlq/1/3" in text


def test_no_samples_when_none_are_asked_for() -> None:
    summary = Summary(samples=0)
    for letter in letters():
        summary.add(letter)
    assert summary.to_json()["samples"] == {}
    assert summary.total == 5


def test_a_hostile_field_name_is_cut_and_escaped_in_the_table() -> None:
    summary = Summary()
    letter = read(stored(reason="schema", field="\x1b[31m" + "k" * 5000))
    assert letter is not None
    summary.add(letter)
    text = "\n".join(summary.lines("dojo.events.dlq"))
    assert "\x1b" not in text
    assert "k" * 60 not in text


def test_filters() -> None:
    found = letters()
    assert sum(Filters().admit(x) for x in found) == 5
    assert sum(Filters(reason="too_old").admit(x) for x in found) == 3
    assert sum(Filters(field="props.typed_value").admit(x) for x in found) == 1
    assert sum(Filters(since_ms=NOW - 86_400_000).admit(x) for x in found) == 4
    assert sum(Filters("too_old", "ts", NOW - 86_400_000).admit(x) for x in found) == 2


# -- the replay plan ------------------------------------------------------------------------


def letter_at(offset: int, **overrides: Any) -> Letter:
    found = read(stored(**overrides), Position("dojo.events.dlq", 0, offset))
    assert found is not None
    return found


def event_payload(n: int, session: str = "sess_0000001") -> str:
    return orjson.dumps({"event_id": f"evt_0000000{n}", "type": "page_view", "ts": NOW - 1000,
                         "session_id": session, "url": "/", "props": {}}).decode()  # fmt: skip


def test_letters_of_one_request_go_back_as_one_raw_batch_in_their_order() -> None:
    chosen = [
        letter_at(5, index=2, payload=event_payload(2, "sess_second")),
        letter_at(6, index=0, payload=event_payload(0, "sess_first0")),
        letter_at(7, source_offset=9, payload=event_payload(3)),
    ]
    replays = plan(chosen, replayed=set()).replays(site="dd-coder-dojo")
    assert [r.source.offset for r in replays] == [7, 9]
    first = orjson.loads(replays[0].value)
    assert set(first) == set(RawBatch._options.fields)
    assert [e["event_id"] for e in first["events"]] == ["evt_00000000", "evt_00000002"]
    assert (first["received_at"], first["visitor_id"]) == (NOW, "a1b2c3d4e5f60718")
    assert (first["device"], first["bot"], first["site"]) == ("mobile", False, "dd-coder-dojo")
    assert replays[0].key == b"sess_first0"
    # The validate stage reads it as it reads the collector's: both events accepted.
    judged = screen(replays[0].value, RawPosition("dojo.events.raw", 0, 100))
    assert [e["event_id"] for e in judged.accepted] == ["evt_00000000", "evt_00000002"]
    assert judged.dead == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"reason": "malformed", "payload": '{"event_id": "evt_00000001"}'},
        {"index": -1},
        {"truncated": True},
        {"payload": "not json"},
        {"payload": "[1, 2]"},
        {"payload": '"page_view"'},
        {"payload": "null"},
        {"payload": '{"a": 1'},
    ],
)
def test_letters_that_cannot_be_replayed_are_counted_not_sent(overrides: dict[str, Any]) -> None:
    planned = plan([letter_at(1, **overrides)], replayed=set())
    assert (len(planned.letters), planned.unfit, planned.already) == (0, 1, 0)
    assert planned.replays("site") == []


def test_letters_replayed_before_are_skipped() -> None:
    done = letter_at(1)
    planned = plan([done, letter_at(2)], replayed={str(done.at)})
    assert (len(planned.letters), planned.already) == (1, 1)


def test_the_replay_record_names_the_letter_and_the_raw_message() -> None:
    letter = letter_at(3)
    key, value = record(letter, NOW, None)
    assert key == b"dojo.events.dlq/0/3"
    assert orjson.loads(value) == {"reason": "too_old", "replayed_at": NOW, "raw_partition": -1,
                                   "raw_offset": -1}  # fmt: skip
    _key, sent = record(letter, NOW, Position("dojo.events.raw", 1, 55))
    assert (orjson.loads(sent)["raw_partition"], orjson.loads(sent)["raw_offset"]) == (1, 55)


def test_what_a_replay_prints() -> None:
    planned = plan([letter_at(1), letter_at(2, index=1), letter_at(3, truncated=True)], {"x"})
    assert dry_run_lines(planned, "too_old")[0] == (
        "would replay 2 (too_old) in 1 raw messages, skip 0 already replayed, 1 cannot be replayed"
    )
    outcome = Outcome(planned, judged=True)
    outcome.again["duplicate"] = 1
    assert summary_lines(outcome) == [
        "replayed 2, skipped 0 already replayed",
        "1 cannot be replayed (malformed, whole message or cut)",
        "judged again: 1 accepted, 1 dead-lettered again (duplicate 1)",
    ]
    assert summary_lines(Outcome(plan([], set()))) == ["replayed 0, skipped 0 already replayed"]

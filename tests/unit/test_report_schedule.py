"""When a scheduled report falls due, and that one sent is never due again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dojo_pulse.reports.schedule import due, due_moment, read_sent, write_sent


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("period", "now", "moment"),
    [
        ("daily", "2026-12-03T06:00:00", "2026-12-03T06:00:00"),
        ("daily", "2026-12-03T05:59:59", "2026-12-02T06:00:00"),
        ("weekly", "2026-12-03T12:00:00", "2026-11-30T06:00:00"),  # a Thursday: Monday's
        ("weekly", "2026-11-30T05:00:00", "2026-11-23T06:00:00"),  # Monday before the hour
        ("monthly", "2026-12-01T07:00:00", "2026-12-01T06:00:00"),
        ("monthly", "2026-12-01T05:00:00", "2026-11-01T06:00:00"),
        ("monthly", "2026-01-01T00:00:00", "2025-12-01T06:00:00"),  # across a year
    ],
)
def test_the_due_moment_is_the_latest_at_or_before_now(period: str, now: str, moment: str) -> None:
    assert due_moment(period, 6, ms(now)) == ms(moment)


def test_a_sent_report_is_due_again_only_at_its_next_moment() -> None:
    now = ms("2026-12-03T08:00:00")
    both = ("daily", "weekly")
    assert due(both, 6, now, {}) == [
        ("daily", ms("2026-12-03T06:00:00")),
        ("weekly", ms("2026-11-30T06:00:00")),
    ]
    sent = {"daily": ms("2026-12-03T06:00:00"), "weekly": ms("2026-11-30T06:00:00")}
    assert due(both, 6, now, sent) == []
    assert due(both, 6, ms("2026-12-04T05:59:00"), sent) == []
    assert due(both, 6, ms("2026-12-04T06:00:00"), sent) == [("daily", ms("2026-12-04T06:00:00"))]
    assert due(("alerts",), 6, now, {}) == [] and due((), 6, now, {}) == []


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"null", b"[1]", b'"daily"', b'{"daily": "1"}', b'{"daily": 1.5}',
     b'{"daily": true}', b'{"hourly": 5}', b"\xff\xfe", b'{"daily": null}'],
)  # fmt: skip
def test_an_unreadable_ledger_is_read_as_nothing_sent(raw: bytes, tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    path.write_bytes(raw)
    assert read_sent(path) == {}


def test_the_ledger_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "schedule.json"
    assert read_sent(path) == {}
    write_sent(path, {"daily": 5, "monthly": 7})
    assert read_sent(path) == {"daily": 5, "monthly": 7}
    assert [p.name for p in path.parent.iterdir()] == ["schedule.json"]

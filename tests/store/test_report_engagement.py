"""The report's engagement figures from a real store: engaged sessions, their share, and the
sessions that came back the same day (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from dojo_pulse.reports.figures import gather
from dojo_pulse.reports.render import render
from stream.sketches.tally import Tally
from stream.sketches.uniques import Uniques, fingerprint
from stream.store.history import DAY_MS, MinuteRow, write_minutes

NOW = time.time_ns() // 1_000_000
YESTERDAY = NOW - NOW % DAY_MS - DAY_MS
BEFORE = YESTERDAY - DAY_MS


def uniques(names: list[str]) -> Uniques:
    out = Uniques()
    for name in names:
        out.add(fingerprint(name))
    return out


def day(start: int, sessions: int, visitors: int, engaged: int) -> list[MinuteRow]:
    """One minute of traffic (distinct sessions and visitors) and of engaged sessions."""
    traffic = Tally({"views": 1.0}, {"sessions": uniques([f"s{start}-{i}" for i in range(sessions)]),
                                     "visitors": uniques([f"v{start}-{i}" for i in range(visitors)])})  # fmt: skip
    minute = start + 9 * 3_600_000
    return [MinuteRow("traffic", minute, 0, traffic),
            MinuteRow("dojo", minute, 1, Tally({"engaged": float(engaged)}))]  # fmt: skip


def test_engagement_figures_beside_the_previous_day(store: sa.Engine) -> None:
    write_minutes(store, day(YESTERDAY, 10, 6, 4) + day(BEFORE, 5, 5, 1), now_ms=NOW)
    report = gather(store, "daily", NOW)
    got = {f.label: f for f in report.figures if f.section == "Engagement"}
    assert got["engaged sessions"].value == 4 and got["engaged sessions"].previous == 1
    share = got["engaged share of sessions"]
    assert (share.value, share.previous) == (0.4, 0.2) and share.change == 1.0
    back = got["sessions that came back the same day"]
    assert (back.value, back.previous, back.change) == (0.4, 0.0, None)
    _, text, html = render(report)
    assert "engaged share of sessions: 40 % (previous 20 %, +100 %)" in text
    assert "sessions that came back the same day: 40 % (previous 0 %, new)" in text
    assert 'data-figure="engaged sessions"' in html


def test_no_sessions_show_dashes_and_more_visitors_than_sessions_never_go_negative(
    store: sa.Engine,
) -> None:
    write_minutes(store, day(YESTERDAY, 3, 5, 0), now_ms=NOW)  # a sketch may overcount
    got = {f.label: f for f in gather(store, "daily", NOW).figures}
    assert got["sessions that came back the same day"].value == 0.0
    assert got["engaged share of sessions"].previous is None
    _, text, _ = render(gather(store, "weekly", NOW - 30 * DAY_MS))
    assert "engaged share of sessions: — (previous —, —)" in text

"""The school term of the panel's "this term" range, and its two settings."""

from __future__ import annotations

from datetime import date

import pytest

from live_feed.term import school_term
from stream.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("today", "term"),
    [
        (date(2026, 10, 14), (date(2026, 9, 1), date(2026, 12, 20))),
        (date(2026, 9, 1), (date(2026, 9, 1), date(2026, 12, 20))),  # its first day
        (date(2026, 12, 20), (date(2026, 9, 1), date(2026, 12, 20))),  # its last day
        (date(2026, 12, 27), (date(2026, 9, 1), date(2026, 12, 20))),  # holiday: just ended
        (date(2027, 1, 2), (date(2026, 9, 1), date(2026, 12, 20))),  # across new year
        (date(2027, 1, 5), (date(2027, 1, 5), date(2027, 3, 31))),
        (date(2027, 4, 9), (date(2027, 1, 5), date(2027, 3, 31))),
        (date(2027, 4, 15), (date(2027, 4, 15), date(2027, 7, 20))),
        (date(2027, 8, 31), (date(2027, 4, 15), date(2027, 7, 20))),
        (date(2028, 2, 29), (date(2028, 1, 5), date(2028, 3, 31))),  # a leap day
    ],
)
def test_the_default_is_the_uk_term_begun_last(today: date, term: tuple[date, date]) -> None:
    assert school_term(today) == term


def test_a_configured_term_wins_whatever_the_day() -> None:
    settings = Settings.from_env({"DOJO_TERM_START": "2026-09-07", "DOJO_TERM_END": "2026-12-18"})
    got = school_term(date(2030, 1, 1), settings.term_start, settings.term_end)
    assert got == (date(2026, 9, 7), date(2026, 12, 18))
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    "env",
    [
        {"DOJO_TERM_START": "2026-09-07"},  # one without the other
        {"DOJO_TERM_END": "2026-12-18"},
        {"DOJO_TERM_START": "2026-12-18", "DOJO_TERM_END": "2026-09-07"},  # backwards
        {"DOJO_TERM_START": "2026-09-07", "DOJO_TERM_END": "2026-09-07"},  # empty
        {"DOJO_TERM_START": "2026-13-01", "DOJO_TERM_END": "2026-12-18"},
        {"DOJO_TERM_START": "07/09/2026", "DOJO_TERM_END": "18/12/2026"},
        {"DOJO_TERM_START": "1", "DOJO_TERM_END": "2"},
        {"DOJO_TERM_START": "true", "DOJO_TERM_END": "null"},
        {"DOJO_TERM_START": "[]", "DOJO_TERM_END": "{}"},
        {"DOJO_TERM_START": "2026-09-07" * 1000, "DOJO_TERM_END": "2026-12-18"},
        {"DOJO_TERM_START": "2026-09-07\x00", "DOJO_TERM_END": "2026-12-18"},
        {"DOJO_TERM_START": "２０２６-09-07", "DOJO_TERM_END": "2026-12-18"},  # noqa: RUF001
        {"DOJO_TERM_START": "\udcff", "DOJO_TERM_END": "2026-12-18"},  # undecodable bytes
    ],
)
def test_a_bad_term_is_refused_naming_both_variables(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="DOJO_TERM_START and DOJO_TERM_END"):
        Settings.from_env(env)

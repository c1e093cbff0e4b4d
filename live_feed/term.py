"""The school term the panel's "this term" range covers: the configured one, else the UK term."""

from __future__ import annotations

from datetime import date

# The usual UK school terms as (month, day) from and to, both days included: autumn, spring,
# summer. A dojo follows the school year: its admins compare one term with the last.
UK_TERMS = (((9, 1), (12, 20)), ((1, 5), (3, 31)), ((4, 15), (7, 20)))


def school_term(today: date, start: str = "", end: str = "") -> tuple[date, date]:
    """The configured term (ISO dates, checked by the settings), else the latest UK term begun.

    In a holiday that is the term just ended, so "this term" is never an empty range.
    """
    if start and end:
        return date.fromisoformat(start), date.fromisoformat(end)
    begun = [
        (date(year, *first), date(year, *last))
        for year in (today.year - 1, today.year)
        for first, last in UK_TERMS
        if date(year, *first) <= today
    ]
    return max(begun)

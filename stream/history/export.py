"""A history query's answer: JSON or CSV bytes, the same for the API and the CLI.

The JSON body (docs: README "History"): ``rows`` has one object per window that holds data
(``start``, ``end`` and the window's ``Tally.summary()``), ``total`` the summary of their
merge (uniques as a union, quantiles from every value), and with ``compare`` the
``previous`` period beside it and ``change``, the relative change of each number (null
where the previous one is 0 or missing). Windows come from the store's summaries
(``stream.store.ranges``): an answer holds its rows' numbers and decodes only the sketches
its total needs.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy

from stream.history.query import Query
from stream.store.ranges import summarized

Numbers = dict[str, float | None]
# A spreadsheet runs a cell that starts with one of these as a formula; names come from
# the site (form ids), so a header cell like that is made plain text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Rendered:
    """An answer ready to send: bytes, their media type and, for CSV, a file name."""

    body: bytes
    media_type: str
    filename: str | None = None


def render(engine: sqlalchemy.Engine, query: Query) -> Rendered:
    """Read ``query`` from the store and format it as it asks (blocking: run in a thread)."""
    body = answer(engine, query)
    if query.format == "csv":
        return Rendered(to_csv(body["rows"]), "text/csv; charset=utf-8", filename(query))
    return Rendered(orjson.dumps(body), "application/json")


def answer(engine: sqlalchemy.Engine, query: Query) -> dict[str, Any]:
    """The JSON body of ``query``."""
    rows, total = period(engine, query)
    body: dict[str, Any] = {
        "channel": query.channel, "interval": query.interval, "from": query.start,
        "to": query.end, "rows": rows, "total": total,
    }  # fmt: skip
    if query.compare:
        before = query.previous()
        rows_before, total_before = period(engine, before)
        body["previous"] = {
            "from": before.start, "to": before.end, "rows": rows_before, "total": total_before,
        }  # fmt: skip
        body["change"] = change(total, total_before)
    return body


def period(engine: sqlalchemy.Engine, query: Query) -> tuple[list[dict[str, Any]], Numbers]:
    """The rows of ``query``'s windows that hold data, and the summary of their merge."""
    windows, total = summarized(engine, query.channel, query.interval, query.start, query.end)
    rows = [{"start": s, "end": s + query.span_ms, **numbers} for s, numbers in windows]
    return rows, total


def change(now: Numbers, before: Numbers) -> Numbers:
    """Relative change of each number (0.18 = +18 %); None where ``before`` is 0 or absent.

    >>> change({"views": 118, "forms": 3}, {"views": 100, "forms": 0})
    {'forms': None, 'views': 0.18}
    """
    out: Numbers = {}
    for name in sorted(now.keys() | before.keys()):
        was, is_ = before.get(name) or 0, now.get(name)
        out[name] = None if not was or is_ is None else round((is_ - was) / was, 4)
    return out


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """``start,end,<sorted names>``, a line per window, times in ISO 8601 UTC."""
    names = sorted({name for row in rows for name in row} - {"start", "end"})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["start", "end", *(plain(name) for name in names)])
    for row in rows:
        cells = [cell(row.get(name)) for name in names]
        writer.writerow([iso(row["start"]), iso(row["end"]), *cells])
    return out.getvalue().encode()


def filename(query: Query) -> str:
    """``<channel>-<interval>-<from>-<to>.csv``, times compact ISO 8601 UTC."""
    start, end = (iso(ms, "%Y%m%dT%H%MZ") for ms in (query.start, query.end))
    return f"{query.channel}-{query.interval}-{start}-{end}.csv"


def iso(ms: int, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    """Epoch ms as ISO 8601 UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(fmt)


def cell(value: float | None) -> str:
    """A number as a CSV cell: whole numbers without ``.0``, nothing for None."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def plain(name: str) -> str:
    """A header cell that a spreadsheet shows as text, never runs as a formula."""
    return f"'{name}" if name.startswith(FORMULA_START) else name

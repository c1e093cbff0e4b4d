"""One-line summaries printed by the terminal client."""

from __future__ import annotations

from live_feed.tail import format_line, summarise


def test_summarise_shows_scalars_and_counts_collections() -> None:
    data = {"active_visitors": 5, "top_pages": [1, 2, 3], "devices": {"mobile": 1}, "x": None}
    assert summarise(data) == "active_visitors=5 top_pages[3] devices{1} x=null"


def test_summarise_is_cut_to_the_limit() -> None:
    text = summarise({"k": "v" * 500}, limit=40)
    assert len(text) == 40
    assert text.endswith("…")


def test_format_line_has_channel_type_and_summary() -> None:
    line = format_line({"channel": "forms", "type": "update", "data": {"forms": []}, "ts": 0})
    assert line.split()[1:] == ["forms", "update", "forms[0]"]


def test_format_line_for_errors_shows_the_detail() -> None:
    assert format_line({"type": "error", "detail": "nope"}).endswith("error    nope")

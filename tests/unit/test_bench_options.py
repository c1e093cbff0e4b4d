"""``python -m bench --sizes``: event counts for the flat-cost row, checked before anything runs."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from bench.__main__ import _sizes, main


def test_sizes_are_sorted_distinct_counts() -> None:
    assert _sizes("1000000,100000") == [100_000, 1_000_000]
    assert _sizes(" 100_000 , 1_000_000 ,") == [100_000, 1_000_000]
    assert _sizes("") == []


@pytest.mark.parametrize(
    "text",
    [
        "100000",  # one size compares nothing
        "100000,100000",
        "500,100000",  # too small to measure a drain
        "-5,100000",
        "0,100000",
        "1e6,100000",
        "1.5,100000",
        "abc,100000",
        "100000;1000000",
        "null,true",
        "[100000, 1000000]",
        "\udcff,100000",
        "9" * 5000,
        "100000,99999999999",
    ],
)
def test_sizes_that_cannot_be_measured_are_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        _sizes(text)


def test_the_command_refuses_bad_sizes_before_touching_kafka() -> None:
    result = CliRunner().invoke(main, ["--sizes", "100000,x", "--only", "pipeline"])
    assert result.exit_code == 2
    assert "--sizes" in result.output

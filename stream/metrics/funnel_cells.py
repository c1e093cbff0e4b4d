"""Funnel cells: the step entries and step-to-step gaps of one device in one window.

A funnel's minute and day windows each hold one ``Cell`` per device class (``Buckets``);
cells add up across partitions and restarts, and encode to JSON-able rows with the gap
sketches' bytes as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stream.sketches.codec import from_text, to_text
from stream.sketches.quantiles import Quantiles


class Cell:
    """Step entries and step-to-step gaps of one device in one window."""

    __slots__ = ("entered", "gaps")

    def __init__(self, n: int) -> None:
        self.entered = [0] * n
        self.gaps: list[Quantiles | None] = [None] * (n - 1)

    def update(self, other: Cell) -> None:
        """Fold ``other`` (a cell of the same funnel) into this one."""
        for i, count in enumerate(other.entered):
            self.entered[i] += count
        for i, sketch in enumerate(other.gaps):
            if sketch is not None:
                mine = self.gaps[i]
                if mine is None:
                    self.gaps[i] = mine = Quantiles()
                mine.update(sketch)

    def encode(self) -> list[Any]:
        """A JSON-able row for a checkpoint (gaps as sketch bytes)."""
        gaps = [None if g is None else to_text(g.to_bytes()) for g in self.gaps]
        return [self.entered, gaps]

    @classmethod
    def decode(cls, row: list[Any]) -> Cell:
        """Inverse of ``encode``."""
        out = cls(len(row[0]))
        out.entered = list(row[0])
        out.gaps = [None if g is None else Quantiles.from_bytes(from_text(g)) for g in row[1]]
        return out


Buckets = dict[int, dict[str, Cell]]


def merge_buckets(a: Buckets, b: Buckets, n: int) -> Buckets:
    """The cells of ``a`` and ``b`` (windows of an ``n``-step funnel) added up, key by key."""
    out: Buckets = {}
    for source in (a, b):
        for key, cells in source.items():
            mine = out.setdefault(key, {})
            for device, cell in cells.items():
                target = mine.get(device)
                if target is None:
                    target = mine[device] = Cell(n)
                target.update(cell)
    return out


def total(cells: Iterable[Cell], n: int) -> Cell:
    """The sum of ``cells`` of an ``n``-step funnel."""
    out = Cell(n)
    for cell in cells:
        out.update(cell)
    return out

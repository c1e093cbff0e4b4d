"""Form counts: one form's starts, submits, abandons, completion times and field actions.

The forms state keeps one per form and UTC day; counts add up across partitions and
restarts, and encode to JSON-able rows with the durations sketch's bytes as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stream.sketches.codec import from_text, to_text
from stream.sketches.counters import OTHER, merge_counts
from stream.sketches.quantiles import Quantiles

MAX_FIELDS = 100


@dataclass(slots=True)
class FormCounts:
    """One form's funnel, completion times and field actions on one UTC day."""

    starts: int = 0
    submits: int = 0
    abandons: int = 0
    durations: Quantiles = field(default_factory=Quantiles)
    dropoff: dict[str, int] = field(default_factory=dict)
    fields: dict[str, list[int]] = field(default_factory=dict)

    def merged(self, other: FormCounts) -> FormCounts:
        """The sum of two days' counts of one form (fields capped at ``MAX_FIELDS``)."""
        fields = {name: list(counts) for name, counts in self.fields.items()}
        for name, counts in other.fields.items():
            mine = fields.get(name)
            if mine is None and len(fields) >= MAX_FIELDS:
                mine = fields.setdefault(OTHER, [0, 0, 0, 0])
            if mine is None:
                fields[name] = list(counts)
            else:
                for i, n in enumerate(counts):
                    mine[i] += n
        return FormCounts(
            self.starts + other.starts,
            self.submits + other.submits,
            self.abandons + other.abandons,
            self.durations.merge(other.durations),
            merge_counts(self.dropoff, other.dropoff, MAX_FIELDS),
            fields,
        )

    def encode(self) -> list[Any]:
        """A JSON-able row for a checkpoint (durations as sketch bytes)."""
        sketch = to_text(self.durations.to_bytes())
        return [self.starts, self.submits, self.abandons, sketch, self.dropoff, self.fields]

    @classmethod
    def decode(cls, row: list[Any]) -> FormCounts:
        """Inverse of ``encode``."""
        starts, submits, abandons, sketch, dropoff, fields = row
        durations = Quantiles.from_bytes(from_text(sketch))
        return cls(starts, submits, abandons, durations, dropoff, fields)

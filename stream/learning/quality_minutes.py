"""Model quality per closed minute of the learner's event clock, for history.

The learners keep running totals: the recommender's checks (a move to another item where
the top 5 shown were compared) and hits (the item moved to was among them) and the same for
popularity alone, the engagement model's labelled sessions and conversions. After every
batch the learning state hands the totals here; what grew since the last call counts in the
newest minute of the clock (the latest event time seen, capped at ``received_at``). That
minute is still open, so a minute never changes once it closes; ``drain`` hands closed
minutes over once. Hit rate over any range = ``hits / shown``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from stream.metrics.minutes import advance
from stream.sketches.tally import Tally
from stream.sketches.windows import DEFAULT_LATENESS_MS, MINUTE_MS, EventClock, window_start


@dataclass
class QualityMinutes:
    """Growth of the learners' quality totals per minute, on the learner's event clock."""

    clock: EventClock = field(default_factory=lambda: EventClock(MINUTE_MS, DEFAULT_LATENESS_MS))
    totals: dict[str, int] = field(default_factory=dict)  # as last seen
    minutes: dict[int, Counter[str]] = field(default_factory=dict)

    def observe(self, ts: int, received_at: int, totals: Mapping[str, int]) -> None:
        """Move the clock to an event at ``ts``; count what ``totals`` grew by since last."""
        advance(self.clock, ts, received_at)
        if self.clock.max_ts <= 0:
            return
        grown = {k: n - self.totals.get(k, 0) for k, n in totals.items()}
        self.totals = dict(totals)
        grown = {k: n for k, n in grown.items() if n > 0}  # a restored model may count less
        if grown:
            self.minutes.setdefault(window_start(self.clock.max_ts), Counter()).update(grown)

    def drain(self) -> list[tuple[int, Tally]]:
        """(minute start, tally) of every minute closed since the last call, oldest first."""
        done = sorted(s for s in self.minutes if self.clock.is_closed(s))
        return [(start, Tally(dict(self.minutes.pop(start)))) for start in done]

"""Crew: what the folding agents of one worker share, made once per app by its factory."""

from __future__ import annotations

import faust

from stream.runtime.budget import Budget
from stream.runtime.rewind import RESEEK_S, Rewinder


class Crew:
    """One time budget and one rewinder for the folding agents of one app.

    The agents of a worker read one consumer and split one worker's time: a rewinder or a
    budget per agent would seek the consumer against each other and overspend the worker.
    """

    def __init__(self, app: faust.App, source: faust.TopicT) -> None:
        self.app = app
        self.topic = source.get_topic_name()
        self.budget = Budget(agents=0)
        self.rewinder = Rewinder()

    def join(self) -> None:
        """Count one more agent in; the first one starts the timer that seeks again."""
        self.budget.agents += 1
        if self.budget.agents > 1:
            return

        async def rewind_again() -> None:
            await self.rewinder.retry(self.app, self.topic)

        self.app.timer(RESEEK_S, name="rewind-again")(rewind_again)

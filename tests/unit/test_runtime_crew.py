"""The crew: one budget and one rewinder per app, built by its factory, none shared globally."""

from __future__ import annotations

import faust

from stream.runtime.crew import Crew


def app_and_topic(name: str) -> tuple[faust.App, faust.TopicT]:
    app = faust.App(name, broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False)
    return app, app.topic("dojo.events", partitions=4)


def test_agents_of_one_app_share_its_crew_and_two_apps_share_nothing() -> None:
    first, second = (Crew(*app_and_topic(name)) for name in ("one", "two"))
    for _ in range(3):
        first.join()
    second.join()
    assert first.budget.agents == 3 and second.budget.agents == 1
    assert first.budget is not second.budget and first.rewinder is not second.rewinder
    assert first.topic == "dojo.events"
    # Three agents wait three times as long as one for the same work.
    assert first.budget.gap(0.1, 0.0) == 3 * second.budget.gap(0.1, 0.0)


def test_an_app_built_twice_starts_from_a_fresh_crew() -> None:
    app, topic = app_and_topic("same")
    Crew(app, topic).join()
    again = Crew(app, topic)  # with a registry keyed by id(app), this one would count 2
    again.join()
    assert again.budget.agents == 1

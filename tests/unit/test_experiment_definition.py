"""The experiment content type: a message per bad field, and the plan and design it gives."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.content.messages import Outbox
from stream.content.service import ContentService
from stream.content.types import TYPES
from stream.experiments.definition import (
    EXPERIMENT,
    design_of,
    is_live,
    parse_variants,
    plan_of,
    store_designs,
)
from stream.experiments.design import Catalogue, Design
from stream.settings import Secret, Settings
from stream.store import open_store

GOOD: dict[str, Any] = {
    "key": "cta_colour",
    "title": "Newsletter button colour",
    "variants": "blue: 50, orange: 50",
    "unit": "visitor",
    "primary": "goal:newsletter",
    "status": "running",
}


def test_the_type_is_registered_with_the_content_types() -> None:
    assert TYPES["experiment"] is EXPERIMENT
    assert EXPERIMENT.item_id(GOOD) == "experiment:cta_colour"
    assert {f["name"] for f in EXPERIMENT.spec()["fields"]} >= {"variants", "traffic", "layer"}  # type: ignore[attr-defined]


def test_a_good_definition_gives_its_plan_and_design() -> None:
    fields = EXPERIMENT.clean(
        GOOD | {"traffic": 10, "layer": "home", "layer_start": 0, "layer_end": 50}
    )
    p = plan_of(fields)
    assert (p.key, p.variants, p.weights, p.traffic, p.layer, p.start, p.end) == (
        "cta_colour", ("blue", "orange"), (0.5, 0.5), 0.1, "home", 0.0, 0.5,
    )  # fmt: skip
    design = design_of(fields)
    assert (design.variants, design.primary, design.running) == (
        ("blue", "orange"),
        "goal:newsletter",
        True,
    )


def test_start_stop_and_status_decide_whether_it_is_live() -> None:
    fields = EXPERIMENT.clean(
        GOOD | {"starts_at": "2026-12-01T10:00:00+00:00", "stops_at": "2026-12-31T10:00:00+01:00"}
    )

    def ms(iso: str) -> int:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)

    assert not is_live(fields, ms("2026-12-01T09:59:59+00:00"))
    assert is_live(fields, ms("2026-12-01T10:00:00+00:00"))
    assert is_live(fields, ms("2026-12-31T08:59:59+00:00"))
    assert not is_live(fields, ms("2026-12-31T09:00:00+00:00"))
    assert not is_live(fields | {"status": "paused"}, None)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"key": "Bad Key"}, "key", "lower-case"),
        ({"key": 5}, "key", "string"),
        ({"variants": "blue"}, "variants", "name: weight"),
        ({"variants": "blue: 50"}, "variants", "2 to 8"),
        ({"variants": "blue: 50, blue: 50"}, "variants", "twice"),
        ({"variants": "blue: 0, orange: 50"}, "variants", "positive"),
        ({"variants": "blue: -5, orange: 50"}, "variants", "name: weight"),
        ({"variants": "blue: 0.00001, orange: 50"}, "variants", "at least"),
        ({"variants": ["blue", "orange"]}, "variants", "string"),
        ({"unit": "person"}, "unit", "visitor, session"),
        ({"traffic": 101}, "traffic", "from 0 to 100"),
        ({"traffic": 1.5}, "traffic", "whole number"),
        ({"traffic": True}, "traffic", "whole number"),
        ({"primary": "clicks"}, "primary", "goal:NAME"),
        ({"secondary": "goal:a, nope"}, "secondary", "comma-separated"),
        ({"guardrails": ["lcp", "speed"]}, "guardrails", "choose from"),
        ({"layer_start": 10}, "layer", "name the layer"),
        ({"layer": "home", "layer_start": 60, "layer_end": 40}, "layer_end", "start < end"),
        (
            {"starts_at": "2026-12-02T00:00:00+00:00", "stops_at": "2026-12-01T00:00:00+00:00"},
            "stops_at",
            "after the start",
        ),
        ({"status": None, "unknown": 1}, "unknown", "not a field"),
        ({"title": "\x00"}, "title", ""),
    ],
)
def test_each_bad_field_gets_its_own_message(
    change: dict[str, Any], field: str, message: str
) -> None:
    errors = EXPERIMENT.validate(GOOD | change)
    assert field in errors, errors
    assert message in errors[field]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(name=st.sampled_from([f.name for f in EXPERIMENT.fields]), value=JSON)
def test_any_json_in_any_field_is_cleaned_or_named(name: str, value: Any) -> None:
    errors = EXPERIMENT.validate(GOOD | {name: value})
    if errors:
        assert all(isinstance(m, str) and m for m in errors.values())
    else:
        plan_of(EXPERIMENT.clean(GOOD | {name: value}))


def test_parse_variants_reads_decimal_weights() -> None:
    assert parse_variants(" a:1.5 ,b: 2") == [
        {"name": "a", "weight": 1.5},
        {"name": "b", "weight": 2.0},
    ]


def test_store_designs_reads_the_published_definitions(tmp_path: Path) -> None:
    settings = Settings(
        database_url=Secret(f"sqlite:///{tmp_path / 'pulse.db'}"), data_dir=tmp_path
    )
    engine = open_store(settings)
    service = ContentService(engine, Outbox())
    service.create("experiment", GOOD, "admin", "")
    load = store_designs(settings)
    assert load() == []  # a draft is not live
    service.publish("experiment:cta_colour")
    assert [(d.key, d.variants, d.primary) for d in load() or []] == [
        ("cta_colour", ("blue", "orange"), "goal:newsletter")
    ]
    engine.dispose()
    away = Settings(
        database_url=Secret("postgresql://nobody:pw@127.0.0.1:1/none"), data_dir=tmp_path
    )
    assert store_designs(away)() is None


def test_the_catalogue_reads_again_only_when_due_and_keeps_designs_when_the_store_is_away() -> None:
    now = [0.0]
    answers: list[list[Design] | None] = [[Design("a", ("x", "y"), (0.5, 0.5))], None, []]
    calls = []

    def loader() -> list[Design] | None:
        calls.append(now[0])
        return answers[len(calls) - 1]

    catalogue = Catalogue(loader=loader, clock=lambda: now[0])
    assert catalogue.design("a", ["q"]).variants == ("x", "y")
    now[0] = 1.0
    catalogue.design("a", [])
    assert calls == [0.0]
    now[0] = 6.0
    assert catalogue.design("a", []).variants == ("x", "y")  # the store was away: kept
    now[0] = 12.0
    assert catalogue.design("a", ["q", "p"]).variants == ("p", "q")  # unpublished: guessed
    assert calls == [0.0, 6.0, 12.0]


def test_the_seeded_definitions_are_valid_and_match_the_simulators_experiments() -> None:
    from dojo_pulse import seed
    from dojo_pulse.simulation import site

    plans = {}
    for fields in seed.EXPERIMENT_DEFINITIONS:
        assert EXPERIMENT.validate(fields) == {}
        plans[fields["key"]] = plan_of(EXPERIMENT.clean(fields))
    assert set(plans) == {site.EXPERIMENT, site.AA_EXPERIMENT}
    assert set(plans[site.EXPERIMENT].variants) == set(site.VARIANTS)
    assert set(plans[site.AA_EXPERIMENT].variants) == set(site.AA_VARIANTS)
    cta = next(f for f in seed.EXPERIMENT_DEFINITIONS if f["key"] == site.EXPERIMENT)
    assert cta["primary"] == f"goal:{site.GOAL}"

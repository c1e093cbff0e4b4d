"""``dojo-pulse experiments list | show``: the real command, against a real store and Redis."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import orjson
import redis

from stream.content.messages import Outbox
from stream.content.service import ContentService
from stream.models.keys import Keys
from stream.settings import Secret, Settings
from stream.store import open_store
from tests.unit.test_cli_errors import environment, run
from tests.unit.test_experiment_definition import GOOD


def test_list_and_show_join_definitions_and_figures(settings: Settings, tmp_path: Path) -> None:
    own = replace(settings, database_url=Secret(f"sqlite:///{tmp_path / 'pulse.db'}"))
    engine = open_store(own)
    service = ContentService(engine, Outbox())
    service.create("experiment", GOOD | {"traffic": 50}, "admin", "")
    service.publish("experiment:cta_colour")
    engine.dispose()
    figures = {"key": "cta_colour", "decision": "no clear difference yet", "variants": []}
    body = {"channel": "experiments", "data": {"experiments": [figures]}, "ts": 1}
    redis.Redis.from_url(own.redis_url).set(
        Keys.of(own).snapshot("experiments"), orjson.dumps(body)
    )
    code, lines = run(["experiments", "list"], environment(own))
    assert code == 0
    assert lines == ["cta_colour  [running, 50%]  blue: 50, orange: 50  — no clear difference yet"]
    code, lines = run(["experiments", "show", "cta_colour"], environment(own))
    shown = json.loads("\n".join(lines))
    assert code == 0 and shown["figures"] == figures
    assert shown["definition"]["primary"] == "goal:newsletter"
    code, lines = run(["experiments", "show", "<nope>"], environment(own))
    assert code == 1 and lines == ["Error: no experiment '<nope>': `dojo-pulse experiments list`"]


def test_an_unreachable_store_is_one_line(settings: Settings) -> None:
    away = replace(settings, database_url=Secret("postgresql://nobody:secretpw@127.0.0.1:1/none"))
    code, lines = run(["experiments", "list"], environment(away))
    assert code == 1 and len(lines) == 1 and lines[0].startswith("Error: ")
    assert "secretpw" not in lines[0]

"""Bulk import and export (JSON, YAML) on a real store: checked whole, written all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from dojo_pulse.cli import main
from infra.process import free_port
from stream.content import ContentService
from stream.content.bulk import BulkError, apply, dump, export, read
from stream.content.messages import Outbox
from stream.content.tables import ITEMS
from stream.settings import Settings
from tests.store.content_items import event, page, resource


def as_json(items: list[Any]) -> bytes:
    return orjson.dumps({"items": items})


def problems(data: bytes, fmt: str = "json") -> list[str]:
    with pytest.raises(BulkError) as caught:
        read(data, fmt)
    return caught.value.problems


def count(store: sa.Engine) -> int:
    with store.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(ITEMS)) or 0)


def test_import_creates_publishes_and_a_second_run_changes_nothing(store: sa.Engine) -> None:
    outbox = Outbox()
    service = ContentService(store, outbox)
    data = as_json([
        {"type": "event", "fields": event(), "publish": True},
        {"type": "resource", "fields": resource(), "message": "from the old site"},
        {"type": "page", "fields": page(), "publish": True},
    ])  # fmt: skip
    counts = apply(service, read(data, "json"), "import")
    assert (counts.created, counts.updated, counts.unchanged, counts.published) == (3, 0, 0, 2)
    assert [i["id"] for i in service.published()] == ["event:scratch-2026-12-05", "page:/about"]
    assert service.revisions("resource:scratch-starter-cards")[0].message == "from the old site"
    assert len(outbox.messages) == 5  # three revisions, then two live snapshots, after the commit
    again = apply(service, read(data, "json"), "import")
    assert (again.created, again.updated, again.unchanged, again.published) == (0, 0, 3, 0)
    changed = apply(
        service, read(as_json([{"type": "page", "fields": page(title="New")}]), "json"), "import"
    )
    assert (changed.updated, service.item("page:/about").status) == (1, "changed")


def test_export_then_import_round_trips_in_both_formats(store: sa.Engine, tmp_path: Path) -> None:
    service = ContentService(store, Outbox())
    service.create("event", event(), "admin")
    service.create("page", page(body="<p>ünï 🚀</p>\n<p>two</p>"), "admin")
    service.publish("page:/about")
    for fmt in ("json", "yaml"):
        document = export(service)
        assert document["items"][1] == {
            "id": "page:/about",
            "type": "page",
            "publish": True,
            "fields": page(body="<p>ünï 🚀</p>\n<p>two</p>"),
        }
        entries = read(dump(document, fmt), fmt)
        assert [(e.item_id, e.publish) for e in entries] == [
            ("event:scratch-2026-12-05", False),
            ("page:/about", True),
        ]
        assert apply(service, entries, "import").unchanged == 2


def test_a_bad_item_anywhere_writes_nothing_and_every_problem_is_listed(store: sa.Engine) -> None:
    data = as_json([
        {"type": "event", "fields": event()},
        {"type": "event", "fields": event("second", capacity=-1, status="soon")},
        {"type": "blog", "fields": {}},
        "not an item",
        {"type": "page", "fields": page(), "colour": "red", "publish": "yes"},
        {"type": "event", "fields": event(), "id": "event:other"},
        {"type": "event", "fields": event()},
    ])  # fmt: skip
    assert problems(data) == [
        "item 2: capacity: must be from 0 to 10000",
        "item 2: status: must be one of scheduled, full, cancelled",
        "item 3: type: must be one of event, resource, page, experiment",
        "item 4: an item is an object with type and fields",
        "item 5: unknown keys colour (items hold fields, id, message, publish, type)",
        "item 5: publish: must be true or false",
        "item 6: id: does not match the fields, which make event:scratch-2026-12-05",
        "item 7: event:scratch-2026-12-05 is item 1 already",
    ]
    assert count(store) == 0


def test_yaml_problems_name_their_line_and_times_stay_text() -> None:
    text = """\
items:
  - type: event
    fields:
      slug: scratch-2026-12-05
      title: Scratch Saturday
      starts_at: 2026-12-05T10:00:00+00:00
      ends_at: 2026-12-05T09:00:00+00:00
      timezone: Europe/London
      venue: Library
      capacity: lots
      status: scheduled
  - type: page
    fields: {path: /about, title: About, body: "<p>x</p>"}
"""
    assert problems(text.encode(), "yaml") == [
        "item 1 (line 10): capacity: must be a whole number, not str",
    ]
    fixed = text.replace("capacity: lots", "capacity: 20")
    assert problems(fixed.encode(), "yaml") == ["item 1 (line 7): ends_at: must be after the start"]
    entries = read(fixed.replace("09:00", "12:00").encode(), "yaml")
    assert entries[0].fields["starts_at"] == "2026-12-05T10:00:00+00:00"


@pytest.mark.parametrize(
    ("data", "fmt", "said"),
    [
        (b"\xff\xfe\x00", "json", "the file is not UTF-8 text (byte 0)"),
        (b'{"items": [', "json", "not JSON:"),
        (b"items: [\n  - {type: page\n", "yaml", "not YAML"),
        (b"!!python/object/apply:os.system ['echo pwned']", "yaml", "not YAML"),
        (b"null", "json", 'the file holds {"items": [...]} or a list of items'),
        (b'{"items": {"a": 1}}', "json", 'the file holds {"items": [...]} or a list of items'),
        (b"42", "yaml", 'the file holds {"items": [...]} or a list of items'),
        (b" " * (32 * 1024 * 1024 + 1), "json", "the file is over 32 MiB"),
    ],
)
def test_files_that_cannot_be_read_say_why(data: bytes, fmt: str, said: str) -> None:
    assert said in problems(data, fmt)[0]


@pytest.mark.parametrize("value", [None, True, 1, 1.5, "x", [], ["x"], {}, {"a": 1}])
def test_every_json_type_in_every_item_member(value: Any) -> None:
    for member in ("type", "fields", "publish", "message", "id"):
        item = {
            "type": "page",
            "fields": page(),
            "publish": False,
            "message": "m",
            "id": "page:/about",
        } | {member: value}
        if (member, value) in (("message", "x"), ("publish", True)):
            continue  # valid
        assert problems(as_json([item])), (member, value)


def test_a_failure_inside_a_batch_rolls_everything_back(store: sa.Engine) -> None:
    outbox = Outbox()
    service = ContentService(store, outbox)
    with pytest.raises(RuntimeError, match="midway"), service.batch():
        service.create("page", page(), "import")
        service.publish("page:/about")
        raise RuntimeError("midway")
    assert count(store) == 0 and outbox.messages == []


def test_the_command_imports_and_exports(store_settings: Settings, tmp_path: Path) -> None:
    env = store_settings.to_env() | {"DOJO_KAFKA": f"127.0.0.1:{free_port()}"}  # Kafka away
    source = tmp_path / "content.yaml"
    source.write_text(
        yaml.safe_dump({"items": [{"type": "page", "fields": page(), "publish": True}]})
    )
    runner = CliRunner()
    done = runner.invoke(
        main, ["content", "import", str(source), "--kafka-wait", "0.5", "--quiet"], env=env
    )
    assert done.exit_code == 0, done.output
    assert "1 items: 1 created, 0 updated, 0 unchanged, 1 published" in done.output
    assert "the live feed sends the catalogue again" in done.output
    out = tmp_path / "out.json"
    exported = runner.invoke(main, ["content", "export", str(out)], env=env)
    assert exported.exit_code == 0
    assert orjson.loads(out.read_bytes())["items"][0]["id"] == "page:/about"
    bad = tmp_path / "bad.json"
    bad.write_bytes(as_json([{"type": "page", "fields": page("/x", title="")}]))
    refused = runner.invoke(main, ["content", "import", str(bad)], env=env)
    assert refused.exit_code == 1
    assert (
        "nothing was written" in refused.output
        and "item 1: title: must not be empty" in refused.output
    )

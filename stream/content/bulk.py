"""Bulk import and export of content as JSON or YAML, checked as a whole before any write.

A file holds ``{"items": [...]}`` (or the bare list); each item is ``{type, fields}`` with
optional ``id`` (checked against the fields), ``publish`` (true: make the imported revision
live) and ``message``. ``read`` parses and validates every item and reports every problem
at once, each with its item number (from 1), field and, for YAML, line; ``apply`` then
writes them in one transaction: all or nothing. An item whose fields equal its newest
revision's makes no new revision, so importing a file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from stream.content.errors import Invalid, NotFound
from stream.content.service import ContentService
from stream.content.types import TYPES

FORMATS = ("json", "yaml")
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_PROBLEMS = 50  # listed; the count says how many more
KEYS = {"id", "type", "fields", "publish", "message"}


class TextTimes(yaml.SafeLoader):
    """YAML's safe loader, leaving date-times as the text they were (fields check them)."""


TextTimes.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class BulkError(ValueError):
    """A file that cannot be imported: ``problems`` lists every reason, one line each."""

    def __init__(self, problems: list[str]) -> None:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        super().__init__("\n".join(shown))
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    """One checked item of a file: ``fields`` as they will be stored."""

    number: int
    type: str
    item_id: str
    fields: dict[str, Any]
    publish: bool = False
    message: str = "import"


@dataclass
class Counts:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    published: int = 0
    ids: list[str] = field(default_factory=list)


def format_of(name: str, given: str | None) -> str:
    """The format ``given``, else the one the file name ends in (json by default)."""
    if given:
        return given
    return "yaml" if name.lower().endswith((".yaml", ".yml")) else "json"


def read(data: bytes, fmt: str) -> list[Entry]:
    """Every item of ``data``, checked; ``BulkError`` listing every problem found."""
    if len(data) > MAX_FILE_BYTES:
        raise BulkError([f"the file is over {MAX_FILE_BYTES // 2**20} MiB"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BulkError([f"the file is not UTF-8 text (byte {exc.start})"]) from None
    lines: dict[tuple[int, str | None], int] = {}
    try:
        if fmt == "yaml":
            document = yaml.load(text, Loader=TextTimes)  # noqa: S506  (a safe loader)
            lines = _yaml_lines(text)
        else:
            document = orjson.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise BulkError([f"{where}not YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    except orjson.JSONDecodeError as exc:
        raise BulkError([f"not JSON: {exc}"]) from None
    items = document.get("items") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise BulkError(['the file holds {"items": [...]} or a list of items'])
    problems: list[str] = []
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, 1):

        def say(name: str | None, message: str, number: int = number) -> None:
            line = lines.get((number, name)) or lines.get((number, None))
            where = f"item {number}" + (f" (line {line})" if line else "")
            problems.append(f"{where}: {name + ': ' if name else ''}{message}")

        entry = _entry(number, item, say)
        if entry is None:
            continue
        if entry.item_id in seen:
            say(None, f"{entry.item_id} is item {seen[entry.item_id]} already")
            continue
        seen[entry.item_id] = number
        entries.append(entry)
    if problems:
        raise BulkError(problems)
    return entries


def _entry(number: int, item: object, say: Callable[[str | None, str], None]) -> Entry | None:
    if not isinstance(item, dict):
        say(None, "an item is an object with type and fields")
        return None
    unknown = sorted(str(k)[:40] for k in item if k not in KEYS)
    if unknown:
        say(None, f"unknown keys {', '.join(unknown)} (items hold {', '.join(sorted(KEYS))})")
    kind = item.get("type")
    content_type = TYPES.get(kind) if isinstance(kind, str) else None
    if content_type is None:
        say("type", f"must be one of {', '.join(TYPES)}")
        return None
    publish, message = item.get("publish", False), item.get("message", "import")
    if not isinstance(publish, bool):
        say("publish", "must be true or false")
    if not isinstance(message, str) or len(message) > 500:
        say("message", "must be text of at most 500 characters")
    try:
        cleaned = content_type.clean(item.get("fields"))
    except Invalid as invalid:
        for name, said in invalid.errors.items():
            say(name, said)
        return None
    item_id = content_type.item_id(cleaned)
    wrong_id = "id" in item and item["id"] != item_id
    if wrong_id:
        say("id", f"does not match the fields, which make {item_id}")
    if unknown or wrong_id or not isinstance(publish, bool) or not isinstance(message, str):
        return None
    return Entry(number, content_type.name, item_id, cleaned, publish, message or "import")


def _yaml_lines(text: str) -> dict[tuple[int, str | None], int]:
    """(item number, field or None) -> the line it starts on."""
    root = yaml.compose(text, Loader=TextTimes)
    if isinstance(root, yaml.MappingNode):
        root = next((v for k, v in root.value if k.value == "items"), None)
    lines: dict[tuple[int, str | None], int] = {}
    if not isinstance(root, yaml.SequenceNode):
        return lines
    for number, node in enumerate(root.value, 1):
        lines[number, None] = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            continue
        for key, value in node.value:
            lines[number, str(key.value)] = key.start_mark.line + 1
            if key.value == "fields" and isinstance(value, yaml.MappingNode):
                for name, _ in value.value:
                    lines[number, str(name.value)] = name.start_mark.line + 1
    return lines


def apply(
    service: ContentService, entries: list[Entry], author: str,
    progress: Callable[[int], object] = lambda _n: None,
) -> Counts:  # fmt: skip
    """Write ``entries`` in one transaction (nothing on any failure); what it did."""
    counts = Counts()
    with service.batch():
        for entry in entries:
            try:
                item = service.item(entry.item_id)
            except NotFound:
                service.create(entry.type, entry.fields, author, entry.message)
                counts.created += 1
                newest, live = 1, None
            else:
                newest, live = item.revision, item.live_revision
                if service.revision(entry.item_id, newest).fields == entry.fields:
                    counts.unchanged += 1
                else:
                    newest = service.update(
                        entry.item_id, entry.fields, newest, author, entry.message
                    ).number
                    counts.updated += 1
            if entry.publish and live != newest:
                service.publish(entry.item_id, newest)
                counts.published += 1
            counts.ids.append(entry.item_id)
            progress(1)
    return counts


def export(service: ContentService, type_name: str | None = None) -> dict[str, Any]:
    """Every item's newest fields (``publish``: that revision is live), as ``read`` takes them."""
    items = []
    for item in service.list(type=type_name):
        newest = service.revision(item.id, item.revision)
        items.append({
            "id": item.id, "type": item.type, "publish": item.live_revision == item.revision,
            "fields": newest.fields,
        })  # fmt: skip
    return {"items": items}


def dump(document: dict[str, Any], fmt: str) -> bytes:
    """``document`` as a file of ``fmt``."""
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode("utf-8")
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"

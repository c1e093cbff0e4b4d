"""The content types: their fields, their item ids, and whole-item validation.

A type's ``validate(fields)`` checks every field (unknown, missing, of the wrong kind) and
then the rules between fields (an event ends after it starts), and returns one message per
bad field; ``clean(fields)`` returns the values as stored, or raises ``Invalid``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stream.content.errors import Invalid
from stream.content.fields import Field, FieldError

RESERVED = ("id", "type", "revision")  # a snapshot's own keys, beside the fields

Rule = Callable[[dict[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class ContentType:
    """A kind of content: its fields, the field naming its items, and rules between fields."""

    name: str
    fields: tuple[Field, ...]
    key: str  # the field whose value makes the item id: "<type>:<value>"
    title: str = "title"
    rules: tuple[Rule, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names) or set(names) & set(RESERVED):
            raise ValueError(f"{self.name}: field names are unique and not {RESERVED}")
        if self.key not in names:
            raise ValueError(f"{self.name}: key {self.key!r} is not a field")

    def field(self, name: str) -> Field | None:
        """The field called ``name``, if the type has one."""
        return next((f for f in self.fields if f.name == name), None)

    def validate(self, fields: object) -> dict[str, str]:
        """A message per bad field of ``fields`` (empty when they are valid)."""
        try:
            self.clean(fields)
        except Invalid as invalid:
            return invalid.errors
        return {}

    def clean(self, fields: object) -> dict[str, Any]:
        """``fields`` as stored (cleaned, nulls dropped); ``Invalid`` with every bad field."""
        if not isinstance(fields, Mapping):
            raise Invalid({"fields": "must be an object of field values"})
        errors: dict[str, str] = {}
        cleaned: dict[str, Any] = {}
        for name, value in fields.items():
            spec = self.field(name) if isinstance(name, str) else None
            if spec is None:
                errors[str(name)[:60]] = f"is not a field of {self.name}"
            elif value is not None:
                try:
                    cleaned[name] = spec.clean(value)
                except FieldError as exc:
                    errors[name] = str(exc)
        for spec in self.fields:
            if spec.required and spec.name not in cleaned and spec.name not in errors:
                errors[spec.name] = "is required"
        if not errors:
            for rule in self.rules:
                errors |= rule(cleaned)
        if errors:
            raise Invalid(errors)
        return {f.name: cleaned[f.name] for f in self.fields if f.name in cleaned}

    def item_id(self, fields: Mapping[str, Any]) -> str:
        """The id of the item ``fields`` (cleaned) describe: ``event:scratch-2026-12-05``."""
        return f"{self.name}:{fields[self.key]}"

    def spec(self) -> dict[str, object]:
        """The type as a form builder needs it."""
        return {"name": self.name, "key": self.key, "fields": [f.spec() for f in self.fields]}


def _ordered(first: str, then: str, message: str) -> Rule:
    def rule(values: dict[str, Any]) -> dict[str, str]:
        if first in values and then in values:
            a, b = values[first], values[then]
            if isinstance(a, str):
                a, b = datetime.fromisoformat(a), datetime.fromisoformat(b)
            if b < a:
                return {then: message}
        return {}

    return rule


AGES = (Field("age_min", "int", maximum=99), Field("age_max", "int", maximum=99))
AGE_RULE = _ordered("age_min", "age_max", "must not be below the minimum age")

EVENT = ContentType(
    "event",
    (
        Field("slug", "slug", required=True, max_length=80),
        Field("title", "text", required=True, max_length=120),
        Field("starts_at", "datetime", required=True, max_length=40),
        Field("ends_at", "datetime", required=True, max_length=40),
        Field("timezone", "timezone", required=True, max_length=64),
        Field("venue", "text", required=True, max_length=200),
        Field("capacity", "int", required=True, maximum=10_000),
        *AGES,
        Field("tags", "tags", max_length=40),
        Field("status", "choice", required=True, options=("scheduled", "full", "cancelled")),
        Field("registration_opens", "datetime", max_length=40),
        Field("registration_closes", "datetime", max_length=40),
    ),
    key="slug",
    rules=(
        _ordered("starts_at", "ends_at", "must be after the start"),
        _ordered("registration_opens", "registration_closes", "must be after registration opens"),
        _ordered("registration_closes", "ends_at", "registration must close before the end"),
        AGE_RULE,
    ),
)
RESOURCE = ContentType(
    "resource",
    (
        Field("slug", "slug", required=True, max_length=80),
        Field("title", "text", required=True, max_length=120),
        Field("kind", "choice", required=True, options=("worksheet", "video", "project", "link")),
        Field("url", "url", required=True, max_length=2000),
        Field("tags", "tags", max_length=40),
        *AGES,
    ),
    key="slug",
    rules=(AGE_RULE,),
)
# The admin API's actions follow an item id in its URLs (``.../page:/x/publish``).
ACTIONS = ("publish", "unpublish", "revert", "revisions", "diff")


def _not_an_action(values: dict[str, Any]) -> dict[str, str]:
    last = str(values.get("path", "")).rsplit("/", 1)[-1]
    return {"path": f"must not end in /{last}: the admin API needs it"} if last in ACTIONS else {}


PAGE = ContentType(
    "page",
    (
        Field("path", "path", required=True, max_length=200),
        Field("title", "text", required=True, max_length=120),
        Field("body", "html", required=True, max_length=100_000),
    ),
    key="path",
    rules=(_not_an_action,),
)

TYPES: dict[str, ContentType] = {}


def register(content_type: ContentType) -> ContentType:
    """Add ``content_type`` to ``TYPES`` (a name already taken by another type is refused)."""
    known = TYPES.get(content_type.name)
    if known is not None and known is not content_type:
        raise ValueError(f"content type {content_type.name!r} is registered already")
    TYPES[content_type.name] = content_type
    return content_type


for _type in (EVENT, RESOURCE, PAGE):
    register(_type)

"""One field of a content type: its kind, limits, and how a value is checked and cleaned.

``Field.clean(value)`` returns the value as stored or raises ``FieldError`` with a message
for an editor. Every JSON type can arrive in every field: only the kind's own passes.
Strings must be valid Unicode without NUL or control characters (PostgreSQL TEXT holds no
NUL, and a lone surrogate cannot be encoded); only ``html`` and ``text`` bodies keep
newlines and tabs.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from stream.content.sanitize import clean_html

KINDS = ("text", "slug", "datetime", "timezone", "int", "tags", "choice", "url", "path", "html")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PATH = re.compile(r"/(?:[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*)?")
MAX_TAGS = 20
MAX_INT = 2**31 - 1  # INT in either database, and exact in every JSON reader


class FieldError(ValueError):
    """A value a field cannot hold; the message is shown beside the field."""


@dataclass(frozen=True)
class Field:
    """A field of a content type: ``kind`` is one of ``KINDS``."""

    name: str
    kind: str
    required: bool = False
    label: str = ""
    max_length: int = 200
    minimum: int = 0
    maximum: int = MAX_INT
    options: tuple[str, ...] = ()
    multiline: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")

    def clean(self, value: object) -> Any:
        """``value`` as stored; ``FieldError`` saying what this field takes."""
        return _CLEANERS[self.kind](self, value)

    def spec(self) -> dict[str, object]:
        """What a form needs to edit this field (``GET /api/admin/content/types``)."""
        spec: dict[str, object] = {
            "name": self.name,
            "kind": self.kind,
            "required": self.required,
            "label": self.label or self.name.replace("_", " ").capitalize(),
        }
        if self.kind in ("text", "html", "url", "path", "slug", "tags"):
            spec["max_length"] = self.max_length
        if self.kind == "int":
            spec |= {"minimum": self.minimum, "maximum": self.maximum}
        if self.options:
            spec["options"] = list(self.options)
        if self.multiline or self.kind == "html":
            spec["multiline"] = True
        return spec


def _string(field: Field, value: object, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise FieldError(f"must be a string, not {_json_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError("is not valid Unicode text") from None
    allowed = "\n\t\r" if multiline else ""
    if any(not c.isprintable() and c not in allowed and c != " " for c in value):
        raise FieldError("must not hold control characters")
    if len(value) > field.max_length:
        raise FieldError(f"must be at most {field.max_length} characters")
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _text(field: Field, value: object) -> str:
    text = _string(field, value, multiline=field.multiline).strip()
    if not text:
        raise FieldError("must not be empty")
    return text


def _slug(field: Field, value: object) -> str:
    text = _string(field, value)
    if not SLUG.fullmatch(text):
        raise FieldError("use lower-case letters, digits and single hyphens (scratch-club)")
    return text


def _datetime(field: Field, value: object) -> str:
    text = _string(field, value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError("must be an ISO 8601 date and time (2026-12-05T10:00:00+00:00)") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldError("must say its UTC offset (+00:00, Z)")
    return moment.isoformat()


def _timezone(field: Field, value: object) -> str:
    text = _string(field, value)
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise FieldError("must be an IANA time zone (Europe/London)") from None
    return text


def _int(field: Field, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FieldError(f"must be a whole number, not {_json_type(value)}")
    if not field.minimum <= value <= field.maximum:
        raise FieldError(f"must be from {field.minimum} to {field.maximum}")
    return value


def _tags(field: Field, value: object) -> list[str]:
    if not isinstance(value, list):
        raise FieldError(f"must be a list of tags, not {_json_type(value)}")
    if len(value) > MAX_TAGS:
        raise FieldError(f"at most {MAX_TAGS} tags")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or not SLUG.fullmatch(tag) or len(tag) > field.max_length:
            raise FieldError(f"each tag is a short slug (python, ages-8-12), not {tag!r:.40}")
        if tag not in tags:
            tags.append(tag)
    return tags


def _choice(field: Field, value: object) -> str:
    if not isinstance(value, str) or value not in field.options:
        raise FieldError(f"must be one of {', '.join(field.options)}")
    return value


def _url(field: Field, value: object) -> str:
    text = _string(field, value).strip()
    if text.startswith("/") and not text.startswith("//"):
        return text  # a file on the site itself
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldError("must be an http(s) URL or a path on the site (/files/...)")
    return text


def _path(field: Field, value: object) -> str:
    text = _string(field, value)
    if not PATH.fullmatch(text):
        raise FieldError("must be a site path: /, /about, /clubs/scratch (lower case)")
    return text


def _html(field: Field, value: object) -> str:
    return clean_html(_string(field, value, multiline=True))


_CLEANERS: dict[str, Callable[[Field, object], Any]] = {
    "text": _text, "slug": _slug, "datetime": _datetime, "timezone": _timezone, "int": _int,
    "tags": _tags, "choice": _choice, "url": _url, "path": _path, "html": _html,
}  # fmt: skip

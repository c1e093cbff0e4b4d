"""The v1 event contract: what a single event must look like to enter ``dojo.events``.

``validate_event`` is pure: it takes one JSON value and the server's receive time and returns
either the event (fields typed, nothing added) or a ``Rejection`` saying why, with the
field at fault. Every check is total over every JSON type, so bad input never raises; should
a check raise all the same (a bug of ours), ``Unjudged`` names the property it was judging
and the caller dead-letters the event as ``invalid``. Sanitising happens afterwards
(``stream.ingest.sanitize``); duplicates are judged with state (``stream.ingest.dedupe``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_URL: Final = 2048
MAX_TEXT: Final = 512
MAX_NAME: Final = 64
MAX_DWELL_MS: Final = 24 * 3600 * 1000
MAX_VIEWPORT: Final = 20_000
MAX_TICKETS: Final = 20
MAX_HEADCOUNT: Final = 50  # one check-in tap: a family or a school group, never a crowd
# v1.1 added registration_cancel and attendance's count and walk_in; every v1 event is still valid.
VERSION: Final = "1.1"

EVENT_KEYS: Final = frozenset({"event_id", "type", "ts", "session_id", "url", "referrer", "props"})
VITALS: Final = frozenset({"LCP", "INP", "CLS", "TTFB", "FCP"})
FIELD_ACTIONS: Final = frozenset({"focus", "blur", "change", "error"})

# Reason codes on the dead-letter topic; docs/topics.md lists them with their meaning.
REASONS: Final = (
    "malformed",
    "schema",
    "type",
    "size",
    "too_old",
    "too_new",
    "duplicate",
    "bot",
    "invalid",  # a check raised instead of judging: a bug of ours, never the sender's fault
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event cannot be accepted: a reason code, the field at fault, a sentence."""

    reason: str
    field: str
    detail: str


@dataclass(frozen=True, slots=True)
class Limits:
    """How far client clocks may be from the server's before an event is refused."""

    max_age_ms: int = 48 * 3600 * 1000
    max_skew_ms: int = 5 * 60 * 1000


DEFAULT_LIMITS: Final = Limits()


class Unjudged(Exception):
    """A check raised instead of answering; ``field`` is what it was judging."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


Check = Callable[[Any], str | None]  # returns an error sentence, or None when the value is fine
# What each check accepts, as JSON Schema: stream.ingest.schema publishes the contract from it,
# and tests/unit/test_event_schema.py holds the two in step.
CHECK_SCHEMAS: Final[dict[Check, dict[str, Any]]] = {}


def _described(check: Check, schema: dict[str, Any]) -> Check:
    CHECK_SCHEMAS[check] = schema
    return check


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fraction(value: Any) -> str | None:
    if not _is_number(value) or not 0 <= value <= 1:
        return "must be a number from 0 to 1"
    return None


_described(_fraction, {"type": "number", "minimum": 0, "maximum": 1})


def _non_negative(limit: float) -> Check:
    def check(value: Any) -> str | None:
        if not _is_number(value) or not 0 <= value <= limit:
            return f"must be a number from 0 to {limit:g}"
        return None

    return _described(check, {"type": "number", "minimum": 0, "maximum": limit})


def _int_range(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return f"must be an integer from {low} to {high}"
        return None

    return _described(check, {"type": "integer", "minimum": low, "maximum": high})


def _flag(value: Any) -> str | None:
    if not isinstance(value, bool):
        return "must be true or false"
    return None


_described(_flag, {"type": "boolean"})


def _text(limit: int) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not 0 < len(value) <= limit:
            return f"must be a non-empty string of at most {limit} characters"
        return None

    return _described(check, {"type": "string", "minLength": 1, "maxLength": limit})


def _one_of(choices: frozenset[str]) -> Check:
    def check(value: Any) -> str | None:
        # The type first: an array or object is unhashable, and ``in`` a set would raise.
        if not isinstance(value, str) or value not in choices:
            return "must be one of " + ", ".join(sorted(choices))
        return None

    return _described(check, {"type": "string", "enum": sorted(choices)})


_NAME = _text(MAX_NAME)
_TICKETS = _int_range(1, MAX_TICKETS)
_FORM = {"form_id": _NAME}
_FORM_OPTIONAL = {"duration_ms": _non_negative(MAX_DWELL_MS)}

# type -> (required props, optional props)
PROPS: Final[Mapping[str, tuple[Mapping[str, Check], Mapping[str, Check]]]] = {
    "page_view": ({}, {"title": _text(MAX_TEXT)}),
    "page_leave": (
        {"dwell_ms": _non_negative(MAX_DWELL_MS), "scroll_depth": _fraction},
        {},
    ),
    "click": (
        {
            "x": _fraction,
            "y": _fraction,
            "viewport_w": _int_range(1, MAX_VIEWPORT),
            "viewport_h": _int_range(1, MAX_VIEWPORT),
        },
        {"selector": _text(256)},
    ),
    "scroll": ({"depth": _fraction}, {}),
    "form_start": (_FORM, _FORM_OPTIONAL),
    "form_submit": (_FORM, _FORM_OPTIONAL),
    "form_abandon": (_FORM, _FORM_OPTIONAL),
    "form_field": ({**_FORM, "field": _NAME, "action": _one_of(FIELD_ACTIONS)}, {}),
    # ``replaces``: the value an earlier report of the same view's CLS or INP gave.
    "web_vital": (
        {"name": _one_of(VITALS), "value": _non_negative(3_600_000)},
        {"replaces": _non_negative(3_600_000)},
    ),
    "registration": ({"dojo_event_id": _NAME, "tickets": _TICKETS}, {}),
    "registration_cancel": ({"dojo_event_id": _NAME, "tickets": _TICKETS}, {}),
    "attendance": (
        {"dojo_event_id": _NAME},
        {"count": _int_range(1, MAX_HEADCOUNT), "walk_in": _flag},
    ),
    "resource_download": ({"resource_id": _NAME}, {}),
    "experiment_exposure": ({"experiment": _NAME, "variant": _NAME}, {}),
    "conversion": ({"goal": _NAME}, {}),
}

TYPES: Final = frozenset(PROPS)


def validate_event(
    item: Any, received_at: int, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any] | Rejection:
    """Judge one JSON value against the v1 contract; ``received_at`` is server epoch ms."""
    if not isinstance(item, dict):
        return Rejection("malformed", "", f"an event must be a JSON object, got {_kind(item)}")
    if not item.keys() <= EVENT_KEYS:
        unknown = sorted(str(key) for key in item if key not in EVENT_KEYS)
        return Rejection("schema", unknown[0], f"unknown field {unknown[0]!r}")
    for name in ("event_id", "session_id"):
        value = item.get(name)
        if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
            return Rejection("schema", name, "must be 8-64 characters of A-Z a-z 0-9 _ -")
    kind = item.get("type")
    if not isinstance(kind, str):
        return Rejection("schema", "type", "must be a string")
    if kind not in TYPES:
        return Rejection("type", "type", f"unknown event type {kind[:40]!r}")
    ts = item.get("ts")
    if not isinstance(ts, int) or isinstance(ts, bool):
        return Rejection("schema", "ts", "must be an integer (epoch milliseconds)")
    if ts < received_at - limits.max_age_ms:
        return Rejection("too_old", "ts", "event time is older than the accepted age")
    if ts > received_at + limits.max_skew_ms:
        return Rejection("too_new", "ts", "event time is ahead of the server clock")
    for name, required in (("url", True), ("referrer", False)):
        value = item.get(name)
        if value is None and not required:
            continue
        if not isinstance(value, str) or (required and not value):
            return Rejection("schema", name, "must be a non-empty string")
        if len(value) > MAX_URL:
            return Rejection("size", name, f"longer than {MAX_URL} characters")
    url = item["url"]
    if not url.startswith("/") and not url.startswith(("http://", "https://")):
        return Rejection("schema", "url", "must be a site path starting with / or an http(s) URL")
    props = item.get("props", {})
    if not isinstance(props, dict):
        return Rejection("schema", "props", "must be an object")
    problem = _check_props(kind, props)
    if problem is not None:
        return problem
    return {
        "event_id": item["event_id"],
        "type": kind,
        "ts": ts,
        "session_id": item["session_id"],
        "url": url,
        "referrer": item.get("referrer") or "",
        "props": props,
    }


def _check_props(kind: str, props: dict[str, Any]) -> Rejection | None:
    required, optional = PROPS[kind]
    for key in props:
        if key not in required and key not in optional:
            return Rejection("schema", f"props.{key}", f"unknown property for {kind}")
    for key, check in required.items():
        if key not in props:
            return Rejection("schema", f"props.{key}", f"required for {kind}")
        problem = _judge(key, check, props[key])
        if problem is not None:
            return problem
    for key, check in optional.items():
        if key in props:
            problem = _judge(key, check, props[key])
            if problem is not None:
                return problem
    return None


def _judge(key: str, check: Check, value: Any) -> Rejection | None:
    try:
        error = check(value)
    except Exception as exc:  # the caller logs and counts it: see stream.ingest.screen
        raise Unjudged(f"props.{key}") from exc
    return None if error is None else Rejection("schema", f"props.{key}", error)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
    }.get(type(value), type(value).__name__)

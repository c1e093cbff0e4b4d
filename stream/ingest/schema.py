"""The event contract (``VERSION``) as JSON Schema (draft 2020-12), from ``stream.ingest.contract``.

Site developers validate their beacon calls with it (``GET /schema/events.json`` on the
collector). Every limit, type and property comes from the contract's own constants and
checks (``CHECK_SCHEMAS``), so the two cannot drift apart silently:
``tests/unit/test_event_schema.py`` runs the contract's property-based events through both.

What JSON Schema cannot say, the descriptions do: event time is judged against the server's
clock (at most 48 h old, 5 min ahead), and an integer written with a fraction (``5.0``) is
refused by the contract although JSON Schema calls it an integer.
"""

from __future__ import annotations

import re
from typing import Any, Final

from stream.ingest.contract import (
    CHECK_SCHEMAS,
    DEFAULT_LIMITS,
    EVENT_KEYS,
    ID_PATTERN,
    MAX_URL,
    PROPS,
    TYPES,
    VERSION,
    Check,
    Limits,
)

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID: Final = "/schema/events.json"
HOUR_MS: Final = 3_600_000


def _id_rule() -> dict[str, Any]:
    """Event and session ids, from ``ID_PATTERN`` (a character class and a length range)."""
    shape = re.fullmatch(r"\[([^\]]+)\]\{(\d+),(\d+)\}", ID_PATTERN.pattern)
    if shape is None:  # the contract's id rule changed shape: this builder must learn it
        raise ValueError(f"cannot describe ID_PATTERN {ID_PATTERN.pattern!r}")
    chars, low, high = shape.group(1), int(shape.group(2)), int(shape.group(3))
    return {
        "type": "string",
        "minLength": low,
        "maxLength": high,
        # "No character outside the class" rather than ^[...]$: a trailing newline passes
        # Python's $, and validators in Python and JavaScript must agree.
        "not": {"pattern": f"[^{chars}]"},
        "description": f"{low}-{high} characters of {chars}",
    }


def _rule(check: Check) -> dict[str, Any]:
    try:
        return dict(CHECK_SCHEMAS[check])
    except KeyError:
        raise ValueError(f"the contract check {check!r} has no JSON Schema") from None


def _props(kind: str) -> dict[str, Any]:
    required, optional = PROPS[kind]
    return {
        "type": "object",
        "properties": {key: _rule(check) for key, check in {**required, **optional}.items()},
        "required": sorted(required),
        "additionalProperties": False,
    }


def _per_type(kind: str) -> dict[str, Any]:
    required, _optional = PROPS[kind]
    then: dict[str, Any] = {"properties": {"props": _props(kind)}}
    if required:  # an absent props is judged as {} (contract.validate_event)
        then["required"] = ["props"]
    return {
        "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
        "then": then,
    }


def event_schema(limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """One event as the validate stage accepts it (the time window is in the description)."""
    url = {"type": "string", "minLength": 1, "maxLength": MAX_URL}
    properties: dict[str, Any] = {
        "event_id": {**_id_rule(), "description": "unique: the dedupe key"},
        "type": {"type": "string", "enum": sorted(TYPES)},
        "ts": {
            "type": "integer",
            "description": (
                f"client time, epoch ms, written without a fraction; at most "
                f"{limits.max_age_ms // HOUR_MS} h older than the server's clock and "
                f"{limits.max_skew_ms // 60_000} min ahead of it"
            ),
        },
        "session_id": _id_rule(),
        "url": {**url, "pattern": "^(/|https?://)", "description": "a site path or http(s) URL"},
        "referrer": {"type": ["string", "null"], "maxLength": MAX_URL},
        "props": {"type": "object", "description": "type-specific properties"},
    }
    if properties.keys() != EVENT_KEYS:
        raise ValueError("EVENT_KEYS changed: describe the new field in event_schema")
    return {
        "type": "object",
        "properties": properties,
        "required": ["event_id", "session_id", "ts", "type", "url"],
        "additionalProperties": False,
        "allOf": [_per_type(kind) for kind in sorted(TYPES)],
    }


def request_schema(max_events: int, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A ``POST /collect`` body: one event, or ``{"events": [...]}`` of 1..``max_events``."""
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": f"Dojo Pulse beacon request (event contract v{VERSION})",
        "description": (
            "The body of POST /collect: one event object, or an object whose 'events' holds "
            f"1 to {max_events} of them. Events that break the contract are accepted by the "
            "collector and dead-lettered by the validate stage with a reason; see "
            "docs/contract.md."
        ),
        "$defs": {"event": event_schema(limits)},
        "if": {"type": "object", "required": ["events"]},
        "then": {
            "properties": {
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_events,
                    "items": {"$ref": "#/$defs/event"},
                }
            }
        },
        "else": {"$ref": "#/$defs/event"},
    }

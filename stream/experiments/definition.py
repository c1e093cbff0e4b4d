"""The ``experiment`` content type: definitions stored, versioned and published as content.

An experiment is content with revisions (``stream.content``): created and changed in the
panel or the CLI, validated field by field, and live once published. Its published snapshot
gives the assignment ``Plan`` (collector) and the analysis ``Design`` (worker). Shares are in
whole percent; ``variants`` is written ``blue: 50, orange: 50`` with control first.
This module sits a floor above ``stream.experiments`` because it builds on ``stream.content``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from stream.content.fields import Field
from stream.content.queries import Reader
from stream.content.types import ContentType, register
from stream.experiments.assignment import KEY, UNITS, AssignmentError, Plan, check_layers, plan
from stream.experiments.design import Design, Loader
from stream.settings import Settings
from stream.store import StoreError, open_store

log = logging.getLogger(__name__)

STATUSES: Final = ("running", "paused", "stopped")
GUARDRAILS: Final = ("lcp", "inp", "cls", "errors", "dead-letters")
METRIC: Final = re.compile(
    r"goal:(?:\*|[A-Za-z0-9_.-]{1,64})|form:[A-Za-z0-9_.-]{1,64}|registration"
)
_VARIANT: Final = re.compile(r"\s*([^:,\s]+)\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*")


def parse_variants(text: str) -> list[dict[str, Any]]:
    """``"blue: 50, orange: 50"`` as assignment's variants; ``ValueError`` says what is wrong."""
    out = []
    for part in text.split(","):
        found = _VARIANT.fullmatch(part)
        if found is None:
            raise ValueError(
                f"write name: weight pairs, like blue: 50, orange: 50 (not {part!r:.30})"
            )
        out.append({"name": found.group(1), "weight": float(found.group(2))})
    return out


def plan_of(fields: dict[str, Any]) -> Plan:
    """The assignment plan of a (cleaned) definition; ``AssignmentError`` when it has none."""
    layer = fields.get("layer")
    try:
        variants = parse_variants(fields["variants"])
    except ValueError as exc:
        raise AssignmentError("variants", str(exc)) from None
    return plan(
        fields["key"],
        variants,
        fields.get("traffic", 100) / 100,
        layer,
        (fields.get("layer_start", 0) / 100, fields.get("layer_end", 100) / 100),
        fields["unit"],
    )


def design_of(fields: dict[str, Any]) -> Design:
    """What the analysis needs of a (cleaned) definition."""
    p = plan_of(fields)
    secondary = tuple(m.strip() for m in fields.get("secondary", "").split(",") if m.strip())
    guardrails = frozenset(
        name.upper() if name in ("lcp", "inp", "cls") else name.replace("-", "_")
        for name in fields.get("guardrails", ())
    )
    return Design(
        p.key, p.variants, p.weights, fields["primary"], running=is_live(fields, None),
        secondary=secondary, guardrails=guardrails,
    )  # fmt: skip


def is_live(fields: dict[str, Any], now_ms: int | None) -> bool:
    """Running, and (when ``now_ms`` is given) between its start and stop."""
    if fields.get("status") != "running":
        return False
    if now_ms is None:
        return True
    starts, stops = fields.get("starts_at"), fields.get("stops_at")
    if starts is not None and now_ms < _ms(starts):
        return False
    return stops is None or now_ms < _ms(stops)


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def _check(values: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "key" in values and KEY.fullmatch(values["key"]) is None:
        errors["key"] = "use 1-64 lower-case letters, digits, _ and - (cta_colour)"
    if "variants" in values and "key" not in errors:
        try:
            plan_of(values)
        except AssignmentError as exc:
            errors[exc.field.split("[")[0].replace("layer_range", "layer_end")] = exc.message
    if "primary" in values and METRIC.fullmatch(values["primary"]) is None:
        errors["primary"] = "one metric: goal:NAME, goal:*, form:FORM_ID or registration"
    secondary = [m.strip() for m in values.get("secondary", "").split(",")]
    if "secondary" in values and any(METRIC.fullmatch(m) is None for m in secondary):
        errors["secondary"] = (
            "metrics, comma-separated: goal:NAME, goal:*, form:FORM_ID, registration"
        )
    unknown = sorted(set(values.get("guardrails", ())) - set(GUARDRAILS))
    if unknown:
        errors["guardrails"] = "choose from " + ", ".join(GUARDRAILS)
    if values.get("layer") is None and ("layer_start" in values or "layer_end" in values):
        errors.setdefault("layer", "name the layer the start and end are a slice of")
    starts, stops = values.get("starts_at"), values.get("stops_at")
    if starts is not None and stops is not None and _ms(stops) <= _ms(starts):
        errors["stops_at"] = "must be after the start"
    return errors


EXPERIMENT: Final = register(
    ContentType(
        "experiment",
        (
            Field("key", "text", required=True, max_length=64),
            Field("title", "text", required=True, max_length=120),
            Field("description", "text", max_length=2000, multiline=True),
            Field(
                "variants",
                "text",
                required=True,
                max_length=600,
                label="Variants (name: weight, control first)",
            ),
            Field("unit", "choice", required=True, options=UNITS),
            Field("traffic", "int", maximum=100, label="Traffic (%)"),
            Field("primary", "text", required=True, max_length=80, label="Primary metric"),
            Field("secondary", "text", max_length=600, label="Secondary metrics"),
            Field("guardrails", "tags", max_length=20),
            Field("layer", "slug", max_length=64),
            Field("layer_start", "int", maximum=100, label="Layer slice start (%)"),
            Field("layer_end", "int", maximum=100, label="Layer slice end (%)"),
            Field("starts_at", "datetime", max_length=40),
            Field("stops_at", "datetime", max_length=40),
            Field("status", "choice", required=True, options=STATUSES),
        ),
        key="key",
        rules=(_check,),
    )
)


def running_plans(published: list[dict[str, Any]], now_ms: int) -> dict[str, Plan]:
    """The plans of the published experiments live at ``now_ms``, by key.

    Two live experiments whose slices of one layer overlap cannot both be exclusive: the one
    whose key sorts later is left out until an editor moves its slice.
    """
    kept: dict[str, Plan] = {}
    for snapshot in sorted(published, key=lambda s: str(s.get("key"))):
        fields = {k: v for k, v in snapshot.items() if k not in ("id", "type", "revision")}
        if not is_live(fields, now_ms):
            continue
        try:
            p = plan_of(fields)
            check_layers([*kept.values(), p])
        except (AssignmentError, KeyError):
            continue
        kept[p.key] = p
    return kept


def store_designs(settings: Settings) -> Loader:
    """A loader of the published experiments' designs from the store, opened on first use."""
    engine: list[sa.Engine] = []

    def load() -> list[Design] | None:
        try:
            if not engine:
                engine.append(open_store(settings))
            published = Reader(engine[0]).published("experiment")
        except (StoreError, sa.exc.SQLAlchemyError) as exc:
            log.warning("experiment designs unreadable, keeping the last ones: %s", exc)
            return None
        designs = []
        for snapshot in published:
            fields = {k: v for k, v in snapshot.items() if k not in ("id", "type", "revision")}
            with contextlib.suppress(AssignmentError, KeyError):  # valid when saved: never seen
                designs.append(design_of(fields))
        return designs

    return load

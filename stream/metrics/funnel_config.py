"""Funnel definitions read from YAML, validated with errors that name the file, funnel and step.

A file holds ``funnels:``, a list of ``{name, steps, window_minutes?, description?}``.
Each step is ``{name, url}`` or ``{name, event, props?}``:

- ``url`` matches ``page_view`` events whose url *path* (the query is ignored) fits the
  pattern: ``*`` stands for exactly one non-empty path segment and ``**`` for any rest of
  the path, so ``/events/*`` matches ``/events/robot-rally`` but not
  ``/events/robot-rally/register``;
- ``event`` matches events of that contract type whose ``props`` hold every given
  key with an equal value.

>>> f = parse_funnels({"funnels": [{"name": "f", "steps": [
...     {"name": "a", "url": "/events/*"}, {"name": "b", "event": "conversion"}]}]})
>>> step = f[0].steps[0]
>>> step.matches("page_view", "/events/x", {}), step.matches("page_view", "/events/x/y", {})
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stream.ingest.contract import TYPES

DEFAULT_PATH = Path(__file__).with_name("funnels.yaml")
DEFAULT_WINDOW_MINUTES = 30
_FILE_KEYS = frozenset({"funnels"})
_FUNNEL_KEYS = frozenset({"name", "steps", "window_minutes", "description"})
_STEP_KEYS = frozenset({"name", "url", "event", "props"})


class FunnelConfigError(ValueError):
    """A funnel file that cannot be used; the message names the file, funnel and step."""


def _url_regex(pattern: str) -> re.Pattern[str] | None:
    """A regex for a pattern with wildcards, or None when the pattern is a literal path."""
    if "*" not in pattern:
        return None
    parts = re.split(r"(\*\*|\*)", pattern)
    body = "".join(".*" if p == "**" else "[^/]+" if p == "*" else re.escape(p) for p in parts if p)
    return re.compile(body + r"\Z")


@dataclass(frozen=True, slots=True)
class Step:
    """One funnel step: a url pattern on page views, or an event type with props."""

    name: str
    url: str | None = None
    event: str | None = None
    props: Mapping[str, Any] = field(default_factory=dict)
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        """The event type this step waits for."""
        return "page_view" if self.url is not None else str(self.event)

    def matches(self, kind: str, url: str, props: Mapping[str, Any]) -> bool:
        """True when an event of ``kind`` at ``url`` with ``props`` completes this step."""
        if self.url is not None:
            if kind != "page_view":
                return False
            path = url.split("?", 1)[0]
            regex = self._regex
            return path == self.url if regex is None else regex.match(path) is not None
        if kind != self.event:
            return False
        return all(props.get(k) == v for k, v in self.props.items())

    def as_dict(self) -> dict[str, Any]:
        """The step as it would be written in YAML."""
        if self.url is not None:
            return {"name": self.name, "url": self.url}
        out: dict[str, Any] = {"name": self.name, "event": self.event}
        if self.props:
            out["props"] = dict(self.props)
        return out


@dataclass(frozen=True, slots=True)
class Funnel:
    """An ordered list of steps to complete within ``window_ms`` of entering the first."""

    name: str
    steps: tuple[Step, ...]
    window_ms: int = DEFAULT_WINDOW_MINUTES * 60_000
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The funnel as it would be written in YAML."""
        out: dict[str, Any] = {
            "name": self.name,
            "window_minutes": self.window_ms / 60_000,
            "steps": [s.as_dict() for s in self.steps],
        }
        if self.window_ms % 60_000 == 0:
            out["window_minutes"] = self.window_ms // 60_000
        if self.description:
            out["description"] = self.description
        return out


def _text(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FunnelConfigError(f"{where}: {what} must be a non-empty string, got {value!r}")
    return value


def _unknown(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(str(k) for k in raw if k not in allowed)
    if extra:
        raise FunnelConfigError(
            f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})"
        )


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, Mapping):
        raise FunnelConfigError(f"{where}: a step must be a mapping, got {raw!r}")
    name = _text(raw.get("name"), where, "name")
    where = f"{where} ({name!r})"
    _unknown(raw, _STEP_KEYS, where)
    url, event, props = raw.get("url"), raw.get("event"), raw.get("props")
    if (url is None) == (event is None):
        raise FunnelConfigError(f"{where}: give exactly one of 'url' or 'event'")
    if url is not None:
        if props is not None:
            raise FunnelConfigError(f"{where}: 'props' goes with 'event', not 'url'")
        url = _text(url, where, "url")
        if not url.startswith("/"):
            raise FunnelConfigError(f"{where}: url must be a site path starting with '/'")
        if any("*" in part and part not in ("*", "**") for part in url.split("/")):
            raise FunnelConfigError(f"{where}: '*' and '**' must stand for whole path segments")
        return Step(name, url=url, _regex=_url_regex(url))
    event = _text(event, where, "event")
    if event not in TYPES:
        raise FunnelConfigError(
            f"{where}: bad event type {event!r} (one of: {', '.join(sorted(TYPES))})"
        )
    if props is None:
        props = {}
    if not isinstance(props, Mapping) or not all(isinstance(k, str) for k in props):
        raise FunnelConfigError(f"{where}: props must be a mapping of names to values")
    return Step(name, event=event, props=dict(props))


def _funnel(raw: Any, source: str, index: int) -> Funnel:
    where = f"{source}, funnel {index}"
    if not isinstance(raw, Mapping):
        raise FunnelConfigError(f"{where}: a funnel must be a mapping, got {raw!r}")
    name = _text(raw.get("name"), where, "name")
    where = f"{source}, funnel {name!r}"
    _unknown(raw, _FUNNEL_KEYS, where)
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise FunnelConfigError(f"{where}: 'steps' must be a non-empty list")
    steps = tuple(_step(s, f"{where}, step {i}") for i, s in enumerate(steps_raw, 1))
    seen: set[str] = set()
    for s in steps:
        if s.name in seen:
            raise FunnelConfigError(f"{where}: duplicate step name {s.name!r}")
        seen.add(s.name)
    window = raw.get("window_minutes", DEFAULT_WINDOW_MINUTES)
    if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
        raise FunnelConfigError(f"{where}: window_minutes must be a positive number")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise FunnelConfigError(f"{where}: description must be a string")
    return Funnel(name, steps, round(window * 60_000), description)


def parse_funnels(raw: Any, source: str = "<funnels>") -> list[Funnel]:
    """Validated funnels from already-parsed YAML data; ``source`` names it in errors."""
    if not isinstance(raw, Mapping):
        raise FunnelConfigError(f"{source}: expected a mapping with a 'funnels' list")
    _unknown(raw, _FILE_KEYS, source)
    items = raw.get("funnels")
    if not isinstance(items, list) or not items:
        raise FunnelConfigError(f"{source}: 'funnels' must be a non-empty list")
    funnels = [_funnel(item, source, i) for i, item in enumerate(items, 1)]
    names = [f.name for f in funnels]
    for name in names:
        if names.count(name) > 1:
            raise FunnelConfigError(f"{source}: duplicate funnel name {name!r}")
    return funnels


def configured_path(setting: str) -> Path:
    """The funnels file ``DOJO_FUNNELS`` names, or else the one shipped here (worker and feed)."""
    return Path(setting) if setting else DEFAULT_PATH


def load_funnels(path: Path | str = DEFAULT_PATH) -> list[Funnel]:
    """Read and validate the funnels in the YAML file at ``path``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FunnelConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise FunnelConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_funnels(raw, str(path))


def funnels_as_dict(funnels: Sequence[Funnel]) -> dict[str, Any]:
    """The funnels as JSON-ready data for the API listing."""
    return {"funnels": [f.as_dict() for f in funnels]}

"""Items of the site: the only strings the site's API recommends.

A beacon request can come from anyone, so the url of an event is a string an attacker may
have typed: one request once put ``/resources/<img src=x onerror=...>`` at the top of the
public recommendations. Until a content catalogue exists, an item is a site path that is

- safe to show anywhere: segments of ASCII letters, digits and ``-._~`` only (no markup,
  quotes or spaces; no ``.``/``..`` segment), checked after percent-escapes are decoded
  (the decoded form is the item), at most ``MAX_CHARS`` long;
- and one of the site's item paths (``DOJO_ITEM_PATHS``): ``*`` stands for one path
  segment, ``**`` for any rest, as in the funnel patterns.

>>> paths = ItemPaths(("/", "/resources/*"))
>>> paths.item("/resources/scratch-cards"), paths.item("/resources/%73cratch")
('/resources/scratch-cards', '/resources/scratch')
>>> paths.item("/resources/<img src=x>"), paths.item("/resources/a%3Cb"), paths.item("/x")
(None, None, None)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final
from urllib.parse import unquote

from stream.settings import Settings

MAX_CHARS: Final = 200
SAFE: Final = re.compile(r"/|(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+")
_SUBPAGES: Final = ("register", "check-in")


def item_of(url: str) -> str:
    """The catalogue item of a site url: its path, with event sub-pages folded into the event."""
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/") or "/"
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "events" and parts[3] in _SUBPAGES:
        return "/".join(parts[:3])
    return path


def item_kind(item: str) -> str:
    """``event``, ``resource`` or ``page``."""
    parts = item.split("/")
    if len(parts) == 3 and parts[1] == "events":
        return "event"
    if len(parts) == 3 and parts[1] == "resources":
        return "resource"
    return "page"


def _regex(pattern: str) -> str:
    parts = re.split(r"(\*\*|\*)", pattern)
    return "".join(".*" if p == "**" else "[^/]+" if p == "*" else re.escape(p) for p in parts)


class ItemPaths:
    """The site's item path patterns, compiled; ``item()`` says what a path names."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        # An empty allow-list allows nothing ("(?!)" never matches).
        body = "|".join(f"(?:{_regex(p)})" for p in self.patterns) or "(?!)"
        self._regex = re.compile(body)

    def item(self, path: str) -> str | None:
        """The item ``path`` names, percent-escapes decoded; None when it names none."""
        if len(path) > 3 * MAX_CHARS:  # "%XX" is three characters for one
            return None
        decoded = unquote(path)
        if len(decoded) > MAX_CHARS or SAFE.fullmatch(decoded) is None:
            return None
        return decoded if self._regex.fullmatch(decoded) is not None else None

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and self.item(item) == item

    def __reduce__(self) -> tuple[object, tuple[tuple[str, ...]]]:
        # Checkpoints hold the patterns, not compiled regexes.
        return item_paths, (self.patterns,)


@lru_cache(maxsize=8)
def item_paths(patterns: tuple[str, ...]) -> ItemPaths:
    """The compiled item paths for ``patterns`` (compiled once per distinct setting)."""
    return ItemPaths(patterns)


SITE_ITEMS: Final = item_paths(Settings.item_paths)  # the default setting, for tests and benches

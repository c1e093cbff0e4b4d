"""Scrub the parsed events of a request before anything is produced.

A GET form puts what a child typed into the next page's URL; the beacon sends that URL.
Scrubbing here, before the ``RawBatch`` is built, means no topic (raw, events, dead
letters), no Redis key and no log line ever holds a query value: ``url`` and ``referrer``
keep their query only for ``utm_*`` and the ``DOJO_QUERY_ALLOW`` names, any other string
loses queries glued into it, and the free-text props lose emails, phones and tokens
(``stream.ingest.sanitize``, whose rules the validate stage applies again).

Judging is left to the validate stage: this step is total over any JSON value and changes
nothing the contract looks at but the scrubbed text, so an event is accepted or refused for
the same reason with or without it. Non-objects, wrong types and unknown fields pass on
(scrubbed) to be dead-lettered there.
"""

from __future__ import annotations

from typing import Any, Final

from stream.ingest.sanitize import scrub_prop, strip_url

URL_FIELDS: Final = frozenset({"url", "referrer"})
PLAIN_KEYS: Final = frozenset(
    {"event_id", "type", "ts", "session_id", "url", "referrer", "props", "v", "title", "path"}
)
SCALARS: Final = frozenset({int, float, bool, type(None)})


def scrub_events(events: list[Any], keep: tuple[str, ...] = ()) -> list[Any]:
    """The events with every URL and text scrubbed; ``keep`` names the query parameters kept."""
    return [
        _event(event, keep) if isinstance(event, dict) else _walk(event, "") for event in events
    ]


def _event(event: dict[Any, Any], keep: tuple[str, ...]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in event.items():
        if key in URL_FIELDS and isinstance(value, str):
            out[key] = strip_url(value, keep)
        elif key == "props" and isinstance(value, dict):
            out[key] = {
                _walk(name, ""): _walk(item, name if isinstance(name, str) else "")
                for name, item in value.items()
            }
        else:
            # The contract's own field names and plain numbers come out of the scrub as they
            # went in (tests/collector/test_fast_path.py): skip the call for them.
            name = key if key in PLAIN_KEYS else _walk(key, "")
            out[name] = value if type(value) in SCALARS else _walk(value, "")
    return out


def _walk(value: Any, key: str) -> Any:
    """``value`` with every string in it (keys too) scrubbed as prop ``key`` would be.

    Iterative: orjson accepts nesting deeper than Python's recursion limit.
    """
    if isinstance(value, str):
        return scrub_prop(key, value)
    if not isinstance(value, dict | list):
        return value
    root: dict[Any, Any] | list[Any] = {} if isinstance(value, dict) else []
    stack: list[tuple[dict[Any, Any] | list[Any], dict[Any, Any] | list[Any]]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        pairs = source.items() if isinstance(source, dict) else enumerate(source)
        for name, item in pairs:
            copy = item
            if isinstance(item, str):
                copy = scrub_prop(key, item)
            elif isinstance(item, dict | list):
                copy = {} if isinstance(item, dict) else []
                stack.append((item, copy))
            if isinstance(target, dict):
                target[scrub_prop("", name) if isinstance(name, str) else name] = copy
            else:
                target.append(copy)
    return root

"""The request envelope: media type, bounded body, and ``{"events": [...]}`` shape.

Only the envelope is judged here. Each event's fields are left to the validate agent,
which sends every bad event to the dead-letter topic with a reason. What is judged here is
judged totally: any body, however hostile, is either accepted or answered 400, 413 or
415, and whatever is accepted can be written to Kafka again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import orjson
from starlette.requests import ClientDisconnect, Request

# sendBeacon can only send text/plain (and a few other "simple" types) without a
# CORS preflight, so it is accepted alongside JSON.
MEDIA_TYPES = frozenset({"application/json", "text/plain"})
# An event is three levels deep in {"events": [{"props": {...}}]}; nothing of the site's
# needs more. orjson reads 1024 levels but writes only 255, so without a bound of our own a
# body between the two was read, then failed to be written to Kafka: a 500.
MAX_DEPTH: Final = 32
_LENGTH = re.compile(r"[0-9]{1,20}")  # ASCII digits only: "²".isdigit() is true, int() fails


class BadRequest(Exception):
    """A request refused at the door, with the status and error code to answer."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def check_headers(headers: Mapping[str, str], max_bytes: int) -> None:
    """Refuse wrong media types (415) and declared bodies over ``max_bytes`` (413)."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise BadRequest(415, "unsupported_media_type", "Send application/json or text/plain.")
    declared = headers.get("content-length")
    if declared is None:
        return
    if _LENGTH.fullmatch(declared.strip()) is None:
        raise BadRequest(400, "bad_request", "Content-Length is not a number.")
    if int(declared) > max_bytes:
        raise BadRequest(413, "too_large", f"The body may hold at most {max_bytes} bytes.")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, read chunk by chunk and abandoned as soon as it passes ``max_bytes``."""
    # Content-Length may be absent (chunked) or wrong, so the bytes are counted too.
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise BadRequest(413, "too_large", f"The body may hold at most {max_bytes} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody reads this answer; it only keeps a routine hang-up out of error logs.
        raise BadRequest(400, "disconnected", "The client left before sending its body.") from None
    return b"".join(chunks)


def parse_events(body: bytes, max_events: int) -> list[Any]:
    """The events of a body holding one event object or ``{"events": [...]}``."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson's own bound, far above ours
            raise _too_deep() from None
        raise BadRequest(400, "bad_json", "The body is not valid UTF-8 JSON.") from None
    # Each level opens with "{" or "[": a body with few of them cannot nest too deep, and
    # counting bytes is far cheaper than walking the document (brackets in strings only
    # make the count larger, so the walk still decides every body that might be too deep).
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH and _deeper_than(document, MAX_DEPTH):
        raise _too_deep()
    if not isinstance(document, dict):
        raise BadRequest(400, "bad_envelope", 'Send one event object or {"events": [...]}.')
    if "events" not in document:
        return [document]
    events = document["events"]
    if not isinstance(events, list) or not events:
        raise BadRequest(400, "bad_envelope", '"events" must be a non-empty list.')
    if len(events) > max_events:
        raise BadRequest(413, "too_many_events", f"Send at most {max_events} events at once.")
    return events


def _too_deep() -> BadRequest:
    return BadRequest(400, "too_deep", f"JSON may be nested at most {MAX_DEPTH} levels deep.")


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)] if isinstance(document, dict | list) else []
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        stack += [(child, depth + 1) for child in children if isinstance(child, dict | list)]
    return False

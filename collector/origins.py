"""Which site a request comes from, and whether it is one of ``DOJO_SITE_ORIGINS``.

CORS only stops requests a browser preflights; a ``text/plain`` POST (what
``sendBeacon`` sends) from any page reaches the endpoint anyway. So the server checks
``Origin`` itself, or, when a browser sent none (same-origin GETs), the origin of
``Referer``. A request with neither is not from a browser page at all: browsers send
``Origin`` on every POST. ``DOJO_ORIGINLESS`` decides those (``accept`` by default:
refusing them would only stop tools that could send a forged header just as easily).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` in lower case without a default port; None if none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    shown = "" if port is None or port == DEFAULT_PORTS[parts.scheme] else f":{port}"
    return f"{parts.scheme}://{host}{shown}"


@functools.cache
def allowed_origins(configured: tuple[str, ...]) -> frozenset[str]:
    """``DOJO_SITE_ORIGINS`` normalised, so ``https://Dojo.example/`` matches the header."""
    return frozenset(o for o in (normalise(c) for c in configured) if o is not None)


def request_origin(headers: Headers) -> str | None:
    """The origin the request claims (``Origin``, else ``Referer``'s); "" when unreadable.

    None means the request carries neither header.
    """
    origins = headers.getlist("origin")
    if origins:
        # Several Origin headers, or "null" (sandboxed frames, privacy redirects): unreadable.
        return (normalise(origins[0]) or "") if len(origins) == 1 else ""
    referers = [r for r in headers.getlist("referer") if r.strip()]
    if referers:
        return (normalise(referers[0]) or "") if len(referers) == 1 else ""
    return None


def from_site(headers: Headers, configured: Iterable[str], originless: str) -> bool:
    """Whether the request comes from one of the site's origins (or may come from nowhere)."""
    origin = request_origin(headers)
    if origin is None:
        return originless == "accept"
    return origin in allowed_origins(tuple(configured))

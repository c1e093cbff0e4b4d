"""Scrub personal data out of URLs, referrers and titles, and normalise URLs.

A children's site must never store a parent's email or phone number because it slipped
into a query string, nor a password-reset token. Everything here is pure and total: any
string in, a cleaned string out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A run of 9-15 digits, optionally led by + and split by spaces, dots, dashes or brackets.
# Nine is the shortest national number with an area code; it also spares ISO dates
# (2026-11-25 has eight digits), which blog URLs are full of.
PHONE: Final = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")
# Long random-looking strings: 24+ URL-safe characters mixing letters and digits.
TOKEN: Final = re.compile(r"(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}")
SECRET_PARAMS: Final = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "auth", "authorization", "key",
        "api_key", "apikey", "password", "pass", "pwd", "secret", "session", "sessionid", "sid",
        "code", "otp", "email", "mail", "phone", "tel", "mobile", "signature", "sig",
    }
)  # fmt: skip
REDACTED: Final = "redacted"
# A site has few distinct URLs and titles; cleaning each once per worker instead of once
# per event is most of why screening fell from 17 to 10 µs an event
# (python -m bench.validate_cost).
# Entries are at most 2 KiB (the contract's URL limit), so the caches stay under ~40 MiB.
CACHED: Final = 8192


@lru_cache(maxsize=CACHED)
def scrub_text(text: str) -> str:
    """Replace emails, phone numbers and token-like strings in free text."""
    text = EMAIL.sub("[email]", text)
    text = PHONE.sub(_phone, text)
    return TOKEN.sub("[token]", text)


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return "[phone]" if 9 <= digits <= 15 else match.group()


@lru_cache(maxsize=CACHED)
def normalize_url(url: str, *, keep_host: bool) -> str:
    """Lowercase scheme and host, drop the fragment, scrub path and query, sort the query.

    With ``keep_host=False`` the result is a site path (``/events?x=1``), which is how page
    URLs are keyed; referrers keep their host because where people came from matters.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return scrub_text(url.split("#", 1)[0])
    if port is not None and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    path = _scrub_path(parts.path) or "/"
    query = _scrub_query(parts.query)
    if not keep_host or not host:
        return urlunsplit(("", "", path, query, ""))
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def _scrub_path(path: str) -> str:
    decoded = unquote(path)
    cleaned = scrub_text(decoded)
    return path if cleaned == decoded else quote(cleaned, safe="/[]")


def _scrub_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() in SECRET_PARAMS:
            pairs.append((key, REDACTED))
        else:
            pairs.append((key, scrub_text(value)))
    pairs.sort()
    return urlencode(pairs, safe="[]")


def sanitize_event(event: dict[str, object]) -> tuple[dict[str, object], bool]:
    """Return the event with url, referrer and title cleaned, and whether anything changed."""
    url = str(event["url"])
    referrer = str(event.get("referrer") or "")
    clean_url = normalize_url(url, keep_host=False)
    clean_referrer = normalize_url(referrer, keep_host=True) if referrer else ""
    changed = clean_url != url or clean_referrer != referrer
    props = event["props"]
    if isinstance(props, dict) and isinstance(props.get("title"), str):
        title = props["title"]
        clean_title = scrub_text(title)
        if clean_title != title:
            props = {**props, "title": clean_title}
            changed = True
    if not changed:
        return event, False
    return {**event, "url": clean_url, "referrer": clean_referrer, "props": props}, True

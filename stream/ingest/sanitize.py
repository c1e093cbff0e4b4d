"""Scrub personal data out of URLs, referrers and free text, and normalise URLs.

A children's site must never store a child's name or a parent's email because a GET form
put them into the next page's query string, nor a password-reset token. So a URL keeps no
query parameter but ``utm_*`` and those named in ``DOJO_QUERY_ALLOW`` (``keep``), and
emails, phone numbers and token-like strings are cut out of paths and free text. The
collector applies ``strip_url`` and ``scrub_prop`` before anything is produced
(``collector.scrub``); the validate stage applies ``sanitize_event`` again, for events that
reach the raw topic by other means. Everything here is pure and total: any string in, a
cleaned string out.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Matches start only where a run of their characters starts: trying every position inside
# a long run made both quadratic (32 s for a 60 kB string, which a hostile request can send).
EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# A run of 9-15 digits, optionally led by + and split by spaces, dots, dashes or brackets.
# Nine is the shortest national number with an area code; it also spares ISO dates
# (2026-11-25 has eight digits), which blog URLs are full of.
PHONE: Final = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")
# Long random-looking strings: 24+ URL-safe characters mixing letters and digits.
TOKEN: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}"
)
SECRET_PARAMS: Final = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "auth", "authorization", "key",
        "api_key", "apikey", "password", "pass", "pwd", "secret", "session", "sessionid", "sid",
        "code", "otp", "email", "mail", "phone", "tel", "mobile", "signature", "sig",
    }
)  # fmt: skip
ALWAYS_KEPT: Final = "utm_"  # campaign tags: how people found the site, never personal
# A query inside free text (a selector's href, a URL pasted into a title): ``?name=`` up
# to the next space or quote. Prose questions ("Why? Because...") have no ``=`` glued on.
QUERY_IN_TEXT: Final = re.compile(r"\?[^\s?#=&'\"<>]*=[^\s'\"<>]*")
# scheme://user@host:port or //host at the start of a URL (the user part is dropped).
AUTHORITY: Final = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)([^/?#]*)")
FREE_TEXT: Final = frozenset({"title", "selector"})  # the contract's free-text props
# A site has few distinct URLs and titles; cleaning each once per worker instead of once
# per event is most of why screening fell from 17 to 10 µs an event
# (python -m bench.validate_cost).
# Entries are at most 2 KiB (the contract's URL limit), so the caches stay under ~40 MiB;
# longer strings come only from requests the contract refuses and are cleaned uncached.
CACHED: Final = 8192
CACHED_CHARS: Final = 2048


def scrub_text(text: str) -> str:
    """Replace emails, phone numbers and token-like strings in free text."""
    return _scrub_text(text) if len(text) <= CACHED_CHARS else _scrub_text.__wrapped__(text)


@lru_cache(maxsize=CACHED)
def _scrub_text(text: str) -> str:
    text = EMAIL.sub("[email]", text)
    text = PHONE.sub(_phone, text)
    return TOKEN.sub(_token, text)


def _token(match: re.Match[str]) -> str:
    # A slug of words and numbers ("scratch-game-jam-2026-12-05") is long and mixes letters
    # and digits too; a random token mixes them within its parts (UUIDs, base64url).
    parts = [part for part in match.group().split("-") if part]
    if len(parts) > 1 and all(part.isalpha() or part.isdigit() for part in parts):
        return match.group()
    return "[token]"


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return "[phone]" if 9 <= digits <= 15 else match.group()


@lru_cache(maxsize=CACHED)
def normalize_url(url: str, *, keep_host: bool, keep: tuple[str, ...] = ()) -> str:
    """Lowercase scheme and host, drop the fragment and all but kept query parameters.

    With ``keep_host=False`` the result is a site path (``/events?utm_source=x``), which is
    how page URLs are keyed; referrers keep their host because where people came from
    matters. ``keep`` names the parameters kept besides ``utm_*`` (``DOJO_QUERY_ALLOW``).
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").strip().lower()
        port = parts.port
    except ValueError:  # not a URL urlsplit can read: cleaned as the collector cleans it
        stripped = strip_url(url, keep)
        # What is left may read as a URL ("//x.org[@" leaves "//"): normalised like one, so
        # that stripping first, as the collector does, never changes the result.
        if stripped == url:
            return stripped
        return normalize_url(stripped, keep_host=keep_host, keep=keep)
    if port is not None and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    # Spaces before a cut query or fragment are noise, as around the whole URL.
    path = scrub_path(parts.path.rstrip()) or "/"
    query = _kept_query(parts.query, keep)
    if not keep_host or not host:
        return urlunsplit(("", "", path, query, ""))
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def scrub_path(path: str) -> str:
    """A URL path with emails, phone numbers and tokens cut out (decoded to find them)."""
    decoded = unquote(path)
    cleaned = scrub_text(decoded)
    return path if cleaned == decoded else quote(cleaned, safe="/[]")


def kept(key: str, keep: Collection[str]) -> bool:
    """Whether query parameter ``key`` may stay: ``utm_*`` or in ``keep``, never a secret."""
    name = key.lower()
    if name in SECRET_PARAMS:
        return False
    return name.startswith(ALWAYS_KEPT) or any(name == allowed.lower() for allowed in keep)


def _kept_query(query: str, keep: Collection[str]) -> str:
    if not query:
        return ""
    pairs = [
        (key, scrub_text(value))
        for key, value in parse_qsl(query, keep_blank_values=True)
        if kept(key, keep)
    ]
    pairs.sort()
    return urlencode(pairs, safe="[]")


def _before_query(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def strip_url(url: str, keep: tuple[str, ...] = ()) -> str:
    """The URL as sent, less its fragment, user info and all but kept query parameters.

    Unlike ``normalize_url`` nothing else changes (no case, host or spacing), so the
    validate stage judges the stripped URL as it would have judged the original, and
    ``normalize_url`` of the result equals ``normalize_url`` of the original.
    """
    if len(url) <= CACHED_CHARS:
        return _strip_url(url, keep)
    return _strip_url.__wrapped__(url, keep)


@lru_cache(maxsize=CACHED)
def _strip_url(url: str, keep: tuple[str, ...]) -> str:
    base, _, query = url.split("#", 1)[0].partition("?")
    head = ""
    authority = AUTHORITY.match(base)
    if authority is not None:
        head = authority.group(1) + authority.group(2).rpartition("@")[2]
        base = base[authority.end() :]
    kept_query = _kept_query(query, keep)
    return head + scrub_path(base) + (f"?{kept_query}" if kept_query else "")


def scrub_prop(key: str, value: str) -> str:
    """A string prop without queries inside it; free text (title, selector) fully scrubbed."""
    if len(value) <= CACHED_CHARS:
        return _scrub_prop(key, value)
    return _scrub_prop.__wrapped__(key, value)


@lru_cache(maxsize=CACHED)
def _scrub_prop(key: str, value: str) -> str:
    value = QUERY_IN_TEXT.sub("", value)
    return scrub_text(value) if key in FREE_TEXT else EMAIL.sub("[email]", value)


def sanitize_event(
    event: dict[str, Any], keep: tuple[str, ...] = ()
) -> tuple[dict[str, Any], bool]:
    """Return the event with url, referrer and string props cleaned, and whether it changed."""
    url = str(event["url"])
    referrer = str(event.get("referrer") or "")
    clean_url = normalize_url(url, keep_host=False, keep=keep)
    clean_referrer = normalize_url(referrer, keep_host=True, keep=keep) if referrer else ""
    changed = clean_url != url or clean_referrer != referrer
    props = event["props"]
    if isinstance(props, dict):
        clean_props = {
            key: scrub_prop(key, value) if isinstance(value, str) else value
            for key, value in props.items()
        }
        if clean_props != props:
            props = clean_props
            changed = True
    if not changed:
        return event, False
    return {**event, "url": clean_url, "referrer": clean_referrer, "props": props}, True

"""Process logging: one format for every process, a warning that repeats is written once,
and no client address or query string in any line.

While Kafka is down, aiokafka logs every failed connect and metadata refresh, for every
request and every retry: an outage wrote 16,000 lines a second and buried the one line
that mattered. ``Repeats`` writes the first warning of each kind and holds back the rest
until that kind has been quiet for ``quiet_s``, so an outage writes each of its lines once
when it starts, and once again only in a later outage. What changed state (Kafka gone,
Kafka back) is logged once by the code that knows it (``collector.sink``).

uvicorn writes one INFO line per WebSocket handshake with the client's ``host:port`` and
the request path *with its query string* (``access_log=False`` does not cover them), and
its access lines carry the same. On a children's site neither may reach a log: a query
can hold a token or a form value, an address is personal data. ``Anonymous`` takes both out
of every line, whoever wrote it, and ``log_config`` has no access logger at all.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

QUIET_S = 60.0  # a kind of warning absent this long is written again when it recurs
MAX_KINDS = 1_000  # distinct kinds remembered; code logs from fixed templates, so few
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = {"crit": "CRITICAL", "error": "ERROR", "warn": "WARNING", "info": "INFO", "debug": "DEBUG"}

# An IPv4 or IPv6 address, with or without a port, standing on its own. A URL's host
# ("http://127.0.0.1:8100", the server's own bind address at start-up) is left alone.
_ADDRESS = re.compile(
    r"(?<![\w/.:\[\]])"
    r"(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?"  # 203.0.113.9, 203.0.113.9:443
    r"|\[[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?"  # [2001:db8::1]:443
    r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f.]{0,4}){2,}(?::\d{1,5})?)"  # 2001:db8::1, ::1:5555
    r"(?![\w.:])"
)
# A query string after a path: "/ws/live?token=..." keeps "/ws/live".
_QUERY = re.compile(r"(/[^\s?\"'<>]*)\?[^\s\"'<>]*")
REDACTED = "-"


def anonymise(text: str) -> str:
    """``text`` without client addresses or query strings."""
    return _QUERY.sub(r"\1", _ADDRESS.sub(REDACTED, text))


class Anonymous(logging.Filter):
    """Rewrites each record's message through ``anonymise`` before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = anonymise(text)
        if clean != text:
            record.msg, record.args = clean, None
            # uvicorn's coloured variant would be formatted with the original arguments.
            record.__dict__.pop("color_message", None)
        return True


class Repeats(logging.Filter):
    """Pass a warning (or worse) only if its kind was not seen in the last ``quiet_s``.

    A kind is the logger and the message template, not its arguments: "Unable connect to
    node with id %s: %s" is one kind whatever the node and error. Below WARNING, all pass.
    """

    def __init__(self, quiet_s: float = QUIET_S, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.quiet_s = quiet_s
        self.clock = clock
        self.held = 0  # lines held back since the process started (for tests and curiosity)
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """True to write ``record``; a repeat within ``quiet_s`` of its last one is held."""
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, str(record.msg))
        now = self.clock()
        last = self._last.pop(kind, None)
        # Re-inserted on every sighting, so the dict is ordered by last sighting.
        self._last[kind] = now
        if len(self._last) > MAX_KINDS:
            del self._last[next(iter(self._last))]
        if last is not None and now - last < self.quiet_s:
            self.held += 1
            return False
        return True


def log_config(loglevel: str = "warn", server_level: str | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for every process (uvicorn's servers included).

    Everything goes to stderr at ``loglevel`` through ``Repeats``; the web servers' loggers
    also through ``Anonymous``, and uvicorn's access logger has no handler (then uvicorn does
    not even build access lines). ``server_level`` sets uvicorn's own loggers apart (the
    live feed logs each WebSocket connection, anonymised, at INFO).
    """
    level = LEVELS.get(loglevel, loglevel.upper())
    server = level if server_level is None else LEVELS.get(server_level, server_level.upper())
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"anonymous": {"()": Anonymous}, "repeats": {"()": Repeats}},
        "formatters": {
            "plain": {"format": FORMAT},
            # uvicorn writes use_colors here when asked to; nothing uses it.
            "access": {"()": "uvicorn.logging.AccessFormatter", "use_colors": False},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
                "filters": ["repeats"],
            },
            # The servers' lines name clients; ours name only our own services (a broker's
            # address is worth keeping), so only the servers' go through ``Anonymous``.
            "servers": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
                "filters": ["anonymous", "repeats"],
            },
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            name: {"level": server, "handlers": ["servers"], "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "websockets")
        }
        | {"uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False}},
    }

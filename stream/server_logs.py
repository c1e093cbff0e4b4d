"""How our uvicorn servers log: no client addresses, no query strings, no access lines.

uvicorn writes one INFO line per WebSocket handshake with the client's ``host:port`` and
the request path *with its query string* (``access_log=False`` does not cover them), and
its access lines carry the same. On a children's site neither may reach a log: a query
can hold a token or a form value, an address is personal data. ``log_config()`` is the
``log_config`` for ``uvicorn.run``/``uvicorn.Config`` of every server of the product: no
access logger at all, and a filter on the one handler that takes addresses and queries
out of every line, whoever wrote it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

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


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn: one anonymised stderr handler, no access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"anonymous": {"()": Anonymous}},
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
                "use_colors": False,
            },
            # uvicorn writes use_colors here when asked to; nothing uses it.
            "access": {"()": "uvicorn.logging.AccessFormatter", "use_colors": False},
        },
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["anonymous"],
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # Without a handler uvicorn does not even build access lines.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }

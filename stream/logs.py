"""Process logging: one format for every process, and a warning that repeats is written once.

While Kafka is down, aiokafka logs every failed connect and metadata refresh, for every
request and every retry: an outage wrote 16,000 lines a second and buried the one line
that mattered. ``Repeats`` writes the first warning of each kind and holds back the rest
until that kind has been quiet for ``quiet_s``, so an outage writes each of its lines once
when it starts, and once again only in a later outage. What changed state (Kafka gone,
Kafka back) is logged once by the code that knows it (``collector.sink``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

QUIET_S = 60.0  # a kind of warning absent this long is written again when it recurs
MAX_KINDS = 1_000  # distinct kinds remembered; code logs from fixed templates, so few
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = {"crit": "CRITICAL", "error": "ERROR", "warn": "WARNING", "info": "INFO", "debug": "DEBUG"}


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


def log_config(loglevel: str = "warn") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: root to stderr at ``loglevel`` through ``Repeats``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"repeats": {"()": Repeats}},
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
                "filters": ["repeats"],
            }
        },
        "root": {"level": LEVELS.get(loglevel, loglevel.upper()), "handlers": ["stderr"]},
    }

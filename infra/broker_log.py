"""What a starting Kafka broker's ``server.log`` says about its progress.

A broker loads every partition's log before it answers; with many partitions that takes
minutes. The log says how far it is ("(6249/6758 completed in ...)"), which lets a caller
tell a broker that is slow but moving from one that is stuck.
"""

from __future__ import annotations

import re
from pathlib import Path

_LOADED = re.compile(rb"\((\d+)/(\d+) completed in ")
_TAIL_BYTES = 256 * 1024


def loading_progress(server_log: Path) -> tuple[int, int] | None:
    """``(loaded, total)`` partition logs from the newest progress line; None: none seen."""
    try:
        with server_log.open("rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(0, size - _TAIL_BYTES))
            tail = log.read()
    except OSError:
        return None
    found = _LOADED.findall(tail)
    if not found:
        return None
    loaded, total = found[-1]
    return int(loaded), int(total)

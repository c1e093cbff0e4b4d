"""Reports kept under ``<DOJO_DATA_DIR>/reports``: the email as sent, and a list for the panel.

Each report is one ``.eml`` file named ``<period>-<first day>[-<n>].eml`` (a threshold report
on a day that already has one gets the next number), so the panel can list, and a browser or
mail client open, exactly what was sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from dojo_pulse.reports.figures import Report
from live_feed.reports import directory, listing

__all__ = ["directory", "keep", "listing"]


def keep(data_dir: Path, report: Report, msg: EmailMessage) -> Path:
    """Write ``msg`` as the newest file of ``report``'s period and first day."""
    folder = directory(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    day = datetime.fromtimestamp(report.start / 1000, UTC).date().isoformat()
    path = folder / f"{report.period}-{day}.eml"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{report.period}-{day}-{n}.eml"
    path.write_bytes(msg.as_bytes())
    return path

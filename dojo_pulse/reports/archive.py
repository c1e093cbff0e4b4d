"""Reports kept under ``<DOJO_DATA_DIR>/reports``: the email as sent, and a list for the panel.

Each report is one ``.eml`` file named ``<period>-<first day>[-<n>].eml`` (a threshold report
on a day that already has one gets the next number), so the panel can list, and a browser or
mail client open, exactly what was sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from dojo_pulse.reports.figures import Report

NAME = re.compile(r"(daily|weekly|monthly)-\d{4}-\d{2}-\d{2}(-\d{1,4})?\.eml")


def directory(data_dir: Path) -> Path:
    """Where the reports of a deployment are kept."""
    return data_dir / "reports"


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


def listing(data_dir: Path) -> list[dict[str, object]]:
    """The kept reports, newest first: name, period, size and when written (ms)."""
    folder = directory(data_dir)
    if not folder.is_dir():
        return []
    rows = []
    for path in folder.iterdir():
        if NAME.fullmatch(path.name) and path.is_file():
            stat = path.stat()
            period = path.name.split("-", 1)[0]
            written = int(stat.st_mtime * 1000)
            rows.append(
                {"name": path.name, "period": period, "bytes": stat.st_size, "written_ms": written}
            )
    return sorted(rows, key=lambda r: (-int(str(r["written_ms"])), str(r["name"])))

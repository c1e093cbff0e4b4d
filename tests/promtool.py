"""``promtool check metrics`` on an exposition: the check Prometheus itself applies."""

from __future__ import annotations

import shutil
import subprocess


def check_metrics(exposition: bytes) -> None:
    """Fail with promtool's words unless ``exposition`` passes (promtool missing fails too)."""
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: `make system` installs it"
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()

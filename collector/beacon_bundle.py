"""The served beacon: ``static/beacon.src.js`` with Google's web-vitals built in.

``make beacon`` installs the web-vitals pinned in ``package.json`` (``npm ci`` checks the
tarball against ``package-lock.json``), copies its IIFE build to ``static/vendor/`` and runs
this module, which writes ``static/beacon.js``. The vendored code replaces the mark line
inside the beacon's closure: one file and one request from the collector's origin, and
``webVitals`` stays a local instead of a global that could clash with the site's own copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).parent
STATIC = HERE / "static"
SOURCE = STATIC / "beacon.src.js"
VENDORED = STATIC / "vendor" / "web-vitals.iife.js"
LICENSE = STATIC / "vendor" / "LICENSE.web-vitals"
SERVED = STATIC / "beacon.js"
LOCK = HERE / "package-lock.json"
INSTALLED = HERE / "node_modules" / "web-vitals"
MARK = "/* @web-vitals */"


def locked_version() -> str:
    """The web-vitals version ``package-lock.json`` holds."""
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    return str(lock["packages"]["node_modules/web-vitals"]["version"])


def compose(source: str, vendored: str, version: str) -> str:
    """``source`` with ``vendored`` in place of its one mark, under a banner naming both."""
    before, mark, after = source.partition(MARK)
    if not mark or MARK in after:
        raise ValueError(f"the beacon source must hold {MARK} exactly once")
    # The source map is not served, so its reference would only be a 404 in devtools.
    code = "\n".join(
        line for line in vendored.splitlines() if not line.startswith("//# sourceMappingURL=")
    )
    banner = (
        f"/* Built by `make beacon` from beacon.src.js and web-vitals {version} "
        "(Copyright Google LLC, Apache-2.0: vendor/LICENSE.web-vitals). "
        "Edit beacon.src.js, not this file. */\n"
    )
    return banner + before + code + after


def main() -> None:
    """Copy the installed web-vitals build next to the beacon and write the served beacon."""
    shutil.copyfile(INSTALLED / "dist" / "web-vitals.iife.js", VENDORED)
    shutil.copyfile(INSTALLED / "LICENSE", LICENSE)
    served = compose(
        SOURCE.read_text(encoding="utf-8"), VENDORED.read_text(encoding="utf-8"), locked_version()
    )
    SERVED.write_text(served, encoding="utf-8")


if __name__ == "__main__":
    main()

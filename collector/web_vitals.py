"""Google's web-vitals as the collector serves it to the beacon: ``GET /web-vitals.js``.

``make beacon`` installs the version pinned in ``package.json`` (``npm ci`` checks the
tarball against ``package-lock.json``), copies its IIFE build to ``static/vendor/`` unchanged
and runs this module, which writes ``static/web-vitals.js``: the same code in a wrapper that
hands the API to the script element the beacon created, so no ``webVitals`` global can clash
with a copy of the site's own. A file of its own, not part of ``beacon.js``: web-vitals is
written for browsers of the last 30 months, and a browser that cannot parse it must still
send its page views with the beacon's plain ES5.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

HERE = Path(__file__).parent
VENDORED = HERE / "static" / "vendor" / "web-vitals.iife.js"
LICENSE = HERE / "static" / "vendor" / "LICENSE.web-vitals"
SERVED = HERE / "static" / "web-vitals.js"
LOCK = HERE / "package-lock.json"
INSTALLED = HERE / "node_modules" / "web-vitals"


def locked_version() -> str:
    """The web-vitals version ``package-lock.json`` holds."""
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    return str(lock["packages"]["node_modules/web-vitals"]["version"])


def wrap(vendored: str, version: str) -> str:
    """The served script: ``vendored`` inside a function that gives its API to its element."""
    if not vendored.startswith("var webVitals="):
        raise ValueError("not web-vitals' IIFE build: it must start with `var webVitals=`")
    # The source map is not served, so its reference would only be a 404 in devtools.
    code = "\n".join(
        line for line in vendored.splitlines() if not line.startswith("//# sourceMappingURL=")
    )
    return (
        f"/* web-vitals {version}, Copyright Google LLC, Apache-2.0 (vendor/LICENSE.web-vitals)."
        " Built by `make beacon`; loaded by beacon.js. */\n"
        "(function (script) {\n"
        f"{code}\n"
        "if (script) { script.webVitals = webVitals; }\n"
        "})(document.currentScript);\n"
    )


async def web_vitals_js(request: Request) -> Response:
    """The wrapped web-vitals build, cacheable for five minutes like the beacon."""
    return FileResponse(
        SERVED,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


def main() -> None:
    """Copy the installed web-vitals build and licence here and write the served script."""
    shutil.copyfile(INSTALLED / "dist" / "web-vitals.iife.js", VENDORED)
    shutil.copyfile(INSTALLED / "LICENSE", LICENSE)
    SERVED.write_text(wrap(VENDORED.read_text(encoding="utf-8"), locked_version()), "utf-8")


if __name__ == "__main__":
    main()

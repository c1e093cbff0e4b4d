"""The beacon's vendored web-vitals: pinned, locked, the expected bytes, and served wrapped."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from collector import web_vitals
from collector.web_vitals import locked_version, wrap

# The IIFE build of each pinned version, as `npm ci` unpacked it from the tarball whose
# sha512 package-lock.json holds. A new pin needs its line here, from the file `make beacon`
# copied.
WEB_VITALS_SHA384 = {
    "6.2.3": "sha384-sKh//42d8+X4ztiyB4ChMShr0tmbWDWrkHfy9pLz9napB81dM74xVylUQVmZ94PE",
}


def test_web_vitals_is_pinned_exactly_and_locked_with_an_integrity_hash() -> None:
    package = json.loads((web_vitals.HERE / "package.json").read_text())
    pinned = package["dependencies"]["web-vitals"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    lock = json.loads(web_vitals.LOCK.read_text())
    assert lock["packages"][""]["dependencies"]["web-vitals"] == pinned
    assert locked_version() == pinned
    integrity = lock["packages"]["node_modules/web-vitals"]["integrity"]
    assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", integrity)


def test_vendored_build_is_the_locked_versions_bytes() -> None:
    digest = hashlib.sha384(web_vitals.VENDORED.read_bytes()).digest()
    assert f"sha384-{base64.b64encode(digest).decode()}" == WEB_VITALS_SHA384[locked_version()]
    assert "Apache License" in web_vitals.LICENSE.read_text(encoding="utf-8")


def test_served_script_is_the_vendored_build_wrapped() -> None:
    vendored = web_vitals.VENDORED.read_text(encoding="utf-8")
    served = web_vitals.SERVED.read_text(encoding="utf-8")
    assert served == wrap(vendored, locked_version()), "run `make beacon`"
    assert f"web-vitals {locked_version()}" in served.splitlines()[0]
    assert "sourceMappingURL" not in served
    # Inside the wrapper's function, web-vitals' var is a local, not a global of the site.
    assert served.index("(function (script) {") < served.index("var webVitals=")


@pytest.mark.parametrize("vendored", ["", "window.webVitals = {};", "<!doctype html>"])
def test_anything_but_the_iife_build_is_refused(vendored: str) -> None:
    with pytest.raises(ValueError, match="IIFE build"):
        wrap(vendored, "0.0.0")

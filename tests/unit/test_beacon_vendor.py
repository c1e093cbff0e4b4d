"""The beacon's vendored web-vitals: pinned, locked, the expected bytes, and built in."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from collector import beacon_bundle
from collector.beacon_bundle import MARK, compose, locked_version

# The IIFE build of each pinned version, as `npm ci` unpacked it from the tarball whose
# sha512 package-lock.json holds. A new pin needs its line here, from `make beacon`'s output.
WEB_VITALS_SHA384 = {
    "6.2.3": "sha384-sKh//42d8+X4ztiyB4ChMShr0tmbWDWrkHfy9pLz9napB81dM74xVylUQVmZ94PE",
}


def test_web_vitals_is_pinned_exactly_and_locked_with_an_integrity_hash() -> None:
    package = json.loads((beacon_bundle.HERE / "package.json").read_text())
    pinned = package["dependencies"]["web-vitals"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    lock = json.loads(beacon_bundle.LOCK.read_text())
    assert lock["packages"][""]["dependencies"]["web-vitals"] == pinned
    assert locked_version() == pinned
    integrity = lock["packages"]["node_modules/web-vitals"]["integrity"]
    assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", integrity)


def test_vendored_build_is_the_locked_versions_bytes() -> None:
    digest = hashlib.sha384(beacon_bundle.VENDORED.read_bytes()).digest()
    assert f"sha384-{base64.b64encode(digest).decode()}" == WEB_VITALS_SHA384[locked_version()]
    assert "Apache License" in beacon_bundle.LICENSE.read_text(encoding="utf-8")


def test_served_beacon_is_built_from_the_current_source_and_vendored_build() -> None:
    source = beacon_bundle.SOURCE.read_text(encoding="utf-8")
    vendored = beacon_bundle.VENDORED.read_text(encoding="utf-8")
    served = beacon_bundle.SERVED.read_text(encoding="utf-8")
    assert served == compose(source, vendored, locked_version()), "run `make beacon`"
    assert MARK not in served and "sourceMappingURL" not in served
    # Inside the beacon's closure: web-vitals' var is a local, not a global of the site.
    assert served.index("(function () {") < served.index("var webVitals=") < served.rindex("})();")


@pytest.mark.parametrize("source", ["(function () { })();", f"{MARK}\n{MARK}", "/* @web-vitals*/"])
def test_a_source_without_exactly_one_mark_is_refused(source: str) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        compose(source, "var webVitals={};", "0.0.0")

"""docs/contract.md and ``stream.ingest.contract`` must name the same types and properties."""

from __future__ import annotations

import re
from pathlib import Path

from stream.ingest.contract import EVENT_KEYS, PROPS

DOC = Path(__file__).parents[2] / "docs" / "contract.md"


def documented_props() -> dict[str, tuple[set[str], set[str]]]:
    """Event type -> (required props, optional props) from the doc's type table."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        types = re.findall(r"`([a-z_]+)`", cells[0])
        if not types or types[0] in EVENT_KEYS:
            continue
        required: set[str] = set()
        optional: set[str] = set()
        # A property is a backticked snake_case name; a "?" inside the backticks marks it optional.
        # Backticked values such as `LCP` or `focus` are upper case or follow a "(".
        for name, mark in re.findall(r"(?<!\()(?<![(/] )`([a-z][a-z_]*)(\??)`", cells[1]):
            (optional if mark else required).add(name)
        for kind in types:
            found[kind] = (required, optional)
    return found


def test_every_type_and_property_is_documented() -> None:
    doc = documented_props()
    code = {kind: (set(req), set(opt)) for kind, (req, opt) in PROPS.items()}
    assert doc == code


def test_every_top_level_field_is_documented() -> None:
    text = DOC.read_text()
    for key in EVENT_KEYS:
        assert f"| `{key}` |" in text, key

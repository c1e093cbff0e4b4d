"""Field-by-field differences between two snapshots; text fields also as a line diff."""

from __future__ import annotations

import difflib
from typing import Any

CONTEXT_LINES = 3


def diff_fields(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per field that differs: ``{field, kind, before, after, lines}``.

    ``kind`` is ``changed``, ``added`` (only in ``after``) or ``removed`` (only in
    ``before``); ``lines`` is a unified diff of the two values when both are text (or one
    side is missing), else empty. Fields come in the order of ``before`` then ``after``.
    """
    changes: list[dict[str, Any]] = []
    for name in [*before, *(n for n in after if n not in before)]:
        old, new = before.get(name), after.get(name)
        if name in before and name in after and old == new:
            continue
        kind = "changed" if name in before and name in after else (
            "added" if name in after else "removed")  # fmt: skip
        texts = [v for v in (old, new) if v is not None]
        lines: list[str] = []
        if texts and all(isinstance(v, str) for v in texts):
            lines = list(
                difflib.unified_diff(
                    (old or "").splitlines(), (new or "").splitlines(),
                    "before", "after", n=CONTEXT_LINES, lineterm="",
                )
            )  # fmt: skip
        changes.append({"field": name, "kind": kind, "before": old, "after": new, "lines": lines})
    return changes

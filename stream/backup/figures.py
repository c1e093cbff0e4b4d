"""The panel's figures a restored stack must show again: counted from a backup's records.

A drill restores, runs a worker on the scratch stack until it has caught up, and compares
what its snapshots say with what the backup's ``dojo.events`` records say: today's (UTC)
page views, form starts and form submits. A batch re-sent after a crash (same source
partition, offset and index) counts once, as the agents count it. Raw requests not yet
validated at the cut become events only on the restored stack, so while any are in flight
a restored figure may be higher than the backup's, never lower.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from stream.backup.container import ContainerReader
from stream.backup.frames import decode
from stream.backup.manifest import Manifest

DAY_MS = 86_400_000
FIGURES = ("views today", "form starts today", "form submits today")
_COUNTED = {"page_view": FIGURES[0], "form_start": FIGURES[1], "form_submit": FIGURES[2]}


def count(bundles: Iterable[bytes | None], now_ms: int) -> dict[str, int]:
    """Today's figures in ``dojo.events`` values (bundles); values that are not are skipped."""
    today, seen, out = now_ms - now_ms % DAY_MS, set(), Counter({name: 0 for name in FIGURES})
    for value in bundles:
        for batch in _batches(value):
            source = (batch.get("source_partition"), batch.get("source_offset"),
                      batch.get("source_index"))  # fmt: skip
            if source[1] not in (None, -1) and source in seen:
                continue
            seen.add(source)
            events = batch.get("events")
            for e in events if isinstance(events, list) else ():
                if not isinstance(e, dict):
                    continue
                ts, name = e.get("ts"), _COUNTED.get(str(e.get("type")))
                if name and isinstance(ts, int) and ts - ts % DAY_MS == today:
                    out[name] += 1
    return dict(out)


def from_backup(
    directory: Path, manifest: Manifest, key: bytes | None, events_topic: str, now_ms: int
) -> dict[str, int]:
    """Today's figures in the backup's ``events_topic`` records."""

    def values() -> Iterable[bytes | None]:
        for topic in manifest.topics:
            if topic.name != events_topic:
                continue
            for part in topic.parts:
                with ContainerReader(directory / part.file, manifest.id, key) as source:
                    for frame in decode(source):
                        yield frame.value

    return count(values(), now_ms)


def shown(traffic: Mapping[str, Any], forms: Mapping[str, Any]) -> dict[str, int]:
    """The same figures in the live ``traffic`` and ``forms`` snapshots."""
    today = traffic.get("today")
    today = today if isinstance(today, dict) else {}
    listed = forms.get("forms")
    rows = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    return {
        FIGURES[0]: _int(today.get("views")),
        FIGURES[1]: sum(_int(f.get("starts")) for f in rows),
        FIGURES[2]: sum(_int(f.get("submits")) for f in rows),
    }


def judge(expected: Mapping[str, int], restored: Mapping[str, int], in_flight: int) -> list[str]:
    """One line per figure, "pass" or "FAIL"; in-flight raw requests may only add."""
    lines = []
    for name in FIGURES:
        want, got = expected.get(name, 0), restored.get(name, 0)
        ok = got == want or (in_flight > 0 and got > want)
        lines.append(f"{'pass' if ok else 'FAIL'} {name}: restored {got}, backup {want}")
    return lines


def in_flight(manifest: Manifest, raw_topic: str, group: str) -> int:
    """Raw requests at the cut past the validate stage's committed offsets."""
    committed = manifest.groups.get(group, {}).get(raw_topic, {})
    return sum(
        max(0, p.end - max(committed.get(str(p.partition), p.start), p.start))
        for t in manifest.topics if t.name == raw_topic for p in t.parts
    )  # fmt: skip


def _batches(value: bytes | None) -> list[dict[str, Any]]:
    try:
        bundle = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return []
    batches = bundle.get("batches") if isinstance(bundle, dict) else None
    return [b for b in batches if isinstance(b, dict)] if isinstance(batches, list) else []


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

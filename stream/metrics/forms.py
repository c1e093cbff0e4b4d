"""Form funnels of one partition: starts, submits, abandons, timing and field drop-off.

Counts are exact and belong to the UTC day of each event's ``ts``; the last hour is kept per
minute as well, on the partition's event clock (an event whose minute has closed counts for
its day only). Time to complete is ``form_submit.props.duration_ms`` when sent, else the
submit ``ts`` minus the latest ``form_start`` ``ts`` of the same session and form. The
drop-off field of an abandon is the last field that session touched in that form, earlier
attempts included (abandons with no field touched count in ``abandons`` only). Progress of
a session is forgotten 30 minutes after its last batch (server time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.metrics.form_counts import MAX_FIELDS, FormCounts
from stream.metrics.minutes import Marks, advance, closed, stale
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec
from stream.sketches.counters import OTHER, bump
from stream.sketches.quantiles import LIBRARY as QUANTILES_LIBRARY
from stream.sketches.quantiles import Quantiles
from stream.sketches.tally import Tally
from stream.sketches.windows import (
    DAY_MS,
    DEFAULT_LATENESS_MS,
    HOUR_MS,
    MINUTE_MS,
    EventClock,
    day_start,
    recent_windows,
    window_start,
)

MAX_FORMS = 200
ACTIONS = ("focus", "blur", "change", "error")
_ACTION_INDEX = {name: i for i, name in enumerate(ACTIONS)}
_FORM_EVENTS = frozenset({"form_start", "form_submit", "form_abandon", "form_field"})
_FUNNEL = {"form_start": 0, "form_submit": 1, "form_abandon": 2}


@dataclass(slots=True)
class _Progress:
    last_seen: int
    forms: dict[str, list[Any]] = field(default_factory=dict)  # form -> [start ts | None, field]


def _quantile_ms(sketch: Quantiles, q: float) -> int | None:
    value = sketch.quantile(q)
    return None if value is None else round(value)


class FormsState:
    """Mergeable, serialisable form analytics of one partition."""

    def __init__(self, lateness_ms: int = DEFAULT_LATENESS_MS) -> None:
        self.days: dict[int, dict[str, FormCounts]] = {}
        self.minutes: dict[int, dict[str, list[int]]] = {}  # minute -> form -> funnel counts
        self.progress: dict[str, _Progress] = {}
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.marks = Marks()

    def _form(self, day: int, form_id: str) -> FormCounts:
        forms = self.days.get(day)
        if forms is None:
            forms = self.days[day] = {}
        form = forms.get(form_id)
        if form is None:
            if len(forms) >= MAX_FORMS:
                form_id = OTHER
            form = forms.get(form_id)
            if form is None:
                form = forms[form_id] = FormCounts()
        return form

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold the form events of one ``EventBatch`` dict into the aggregates."""
        progress: _Progress | None = None
        events = batch["events"]
        for e in events:
            etype = e["type"]
            if etype not in _FORM_EVENTS:
                continue
            if progress is None:
                progress = self._progress(batch)
            ts = e["ts"]
            props = e["props"]
            form_id = props["form_id"]
            form = self._form(ts - ts % DAY_MS, form_id)
            if etype == "form_field":
                name = props["field"]
                counts = form.fields.get(name)
                if counts is None:
                    if len(form.fields) >= MAX_FIELDS:
                        name = OTHER
                    counts = form.fields.setdefault(name, [0, 0, 0, 0])
                counts[_ACTION_INDEX[props["action"]]] += 1
                progress.forms.setdefault(form_id, [None, ""])[1] = name
                continue
            self._minute(ts, form_id, _FUNNEL[etype])
            seen = progress.forms.setdefault(form_id, [None, ""])
            if etype == "form_start":
                form.starts += 1
                seen[0] = ts
                continue
            started, seen[0] = seen[0], None
            if etype == "form_submit":
                form.submits += 1
                duration = props.get("duration_ms")
                if duration is None and started is not None:
                    duration = ts - started
                if duration is not None and duration >= 0:
                    form.durations.add(float(duration))
            else:
                form.abandons += 1
                if seen[1]:
                    bump(form.dropoff, seen[1], 1, MAX_FIELDS)
        if events:  # every event moves the clock, so quiet forms' minutes close too
            advance(self.clock, events[-1]["ts"], batch["received_at"])

    def _minute(self, ts: int, form_id: str, step: int) -> None:
        start = ts - ts % MINUTE_MS
        if self.clock.is_closed(start):
            return  # late: counted for its day only
        minute = self.minutes.setdefault(start, {})
        if form_id not in minute and len(minute) >= MAX_FORMS:
            form_id = OTHER
        minute.setdefault(form_id, [0, 0, 0])[step] += 1
        self.marks.touch(start)

    def _progress(self, batch: Mapping[str, Any]) -> _Progress:
        sid, received = batch["session_id"], batch["received_at"]
        progress = self.progress.get(sid)
        if progress is None:
            progress = self.progress[sid] = _Progress(received)
        progress.last_seen = max(progress.last_seen, received)
        return progress

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Today's (UTC) form analytics, busiest forms first, with last-hour funnel counts."""
        hour: dict[str, list[int]] = {}
        for start in recent_windows(now_ms, 60):
            for form_id, counts in self.minutes.get(start, {}).items():
                total = hour.setdefault(form_id, [0, 0, 0])
                for i, n in enumerate(counts):
                    total[i] += n
        today = self.days.get(day_start(now_ms), {})
        out = []
        for form_id, f in sorted(today.items(), key=lambda kv: (-kv[1].starts, kv[0])):
            last = hour.get(form_id, [0, 0, 0])
            drop = sorted(f.dropoff.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(
                {
                    "form_id": form_id,
                    "starts": f.starts,
                    "submits": f.submits,
                    "abandons": f.abandons,
                    "completion_rate": min(1.0, f.submits / f.starts) if f.starts else 0.0,
                    "median_ms": _quantile_ms(f.durations, 0.5),
                    "p90_ms": _quantile_ms(f.durations, 0.9),
                    "dropoff_field": drop[0][0] if drop else None,
                    "dropoff": dict(f.dropoff),
                    "fields": {
                        name: dict(zip(ACTIONS, counts, strict=True))
                        for name, counts in sorted(f.fields.items())
                    },
                    "last_hour": {"starts": last[0], "submits": last[1], "abandons": last[2]},
                }
            )
        return {"forms": out}

    def expire(self, now_ms: int) -> None:
        """Forget idle sessions, minutes older than an hour and days before yesterday."""
        today = day_start(now_ms)
        for day in [d for d in self.days if d < today - DAY_MS]:
            del self.days[day]
        old = stale(self.clock, self.minutes, window_start(now_ms) - HOUR_MS, now_ms)
        for start in old:
            del self.minutes[start]
        self.marks.forget(old)
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, p in self.progress.items() if p.last_seen <= idle]:
            del self.progress[sid]

    def merge(self, other: FormsState, *, sessions: bool = True) -> FormsState:
        """A new state of both partitions (``sessions=False`` skips progress: display only)."""
        out = FormsState(self.clock.lateness_ms)
        out.clock = self.clock.merge(other.clock)
        empty = FormCounts()
        out.days = {d: {k: f.merged(empty) for k, f in fs.items()} for d, fs in self.days.items()}
        out.minutes = {m: {k: list(c) for k, c in fs.items()} for m, fs in self.minutes.items()}
        if sessions:
            out.progress = {
                sid: _Progress(p.last_seen, {k: list(v) for k, v in p.forms.items()})
                for sid, p in self.progress.items()
            }
        for day, forms in other.days.items():
            mine = out.days.setdefault(day, {})
            for form_id, form in forms.items():
                key = form_id if form_id in mine or len(mine) < MAX_FORMS else OTHER
                mine[key] = mine[key].merged(form) if key in mine else form.merged(FormCounts())
        for start, counts in other.minutes.items():
            minute = out.minutes.setdefault(start, {})
            for form_id, funnel in counts.items():
                total = minute.setdefault(form_id, [0, 0, 0])
                for i, n in enumerate(funnel):
                    total[i] += n
        for sid, p in other.progress.items() if sessions else ():
            mine_p = out.progress.setdefault(sid, _Progress(p.last_seen))
            mine_p.last_seen = max(mine_p.last_seen, p.last_seen)
            mine_p.forms.update({k: list(v) for k, v in p.forms.items()})
        return out

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start`` (None when it holds nothing)."""
        minute = self.minutes.get(start)
        if minute is None:
            return None
        counts: dict[str, float] = {}
        for form_id, funnel in minute.items():
            for name, n in zip(("starts", "submits", "abandons"), funnel, strict=True):
                counts[f"{form_id}.{name}"] = n
        return Tally(counts)

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, self.minutes)

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``); durations hold ddsketch's bins."""
        raw = {
            "days": {
                str(d): {k: f.encode() for k, f in forms.items()} for d, forms in self.days.items()
            },
            "minutes": {str(m): counts for m, counts in self.minutes.items()},
            "progress": {sid: [p.last_seen, p.forms] for sid, p in self.progress.items()},
            "clock": self.clock.to_list(),
        }
        return codec.encode("forms", 2, raw, libraries=(QUANTILES_LIBRARY,))

    @classmethod
    def from_bytes(cls, data: bytes) -> FormsState:
        """Rebuild a state written by ``to_bytes`` (or by the codec-less format before it)."""
        return codec.decode("forms", data, {1: cls._read_v1, 2: cls._read_v2})

    @classmethod
    def _read_v2(cls, raw: dict[str, Any]) -> FormsState:
        out = cls._read_v1(raw)
        out.clock = EventClock.from_list(raw["clock"])
        return out

    @classmethod
    def _read_v1(cls, raw: dict[str, Any]) -> FormsState:
        # v1 had no clock: its minutes read as open until events move a new one past them.
        out = cls()
        out.days = {
            int(d): {k: FormCounts.decode(row) for k, row in forms.items()}
            for d, forms in raw["days"].items()
        }
        out.minutes = {int(m): counts for m, counts in raw["minutes"].items()}
        out.progress = {
            sid: _Progress(seen, forms) for sid, (seen, forms) in raw["progress"].items()
        }
        return out

"""Engagement of live sessions: a 0-100 score and an online P(session converts).

Features are exponentially decayed counts (half-life ``half_life_ms``, by event time) kept
per session and per visitor of the day. The score squashes a weighted sum of them::

    z = 0.35 pages + 0.25 dwell_minutes + 1.0 max_scroll + 0.8 form_starts
        + 1.5 form_submits + 1.2 downloads + 0.5 returning + 2.0 goals
    score = 100 * (1 - exp(-z / 3))

Conversion model, prequential and free of label leakage: a session's features are frozen
and its prediction recorded once, at its ``predict_after``-th ``page_leave`` (by default
the end of the first page), or just before its first goal event if that comes sooner, or
when it times out. The goal event itself is never a feature. The model learns once per
session from the frozen features when the session closes (``SESSION_TIMEOUT_MS`` without a
batch): label 1 if a goal event arrived, else 0. Positives wait for the close too: learning
them at once while negatives wait 30 minutes would feed the model and the baseline rate a
stream of positives first and bias both towards conversion. Rolling ROC AUC and log loss
are kept for the model and for a baseline that always predicts the running conversion rate.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

from stream.learning.learners import checkpoint, make_model, pop_idle, restore
from stream.learning.live_scores import LiveScores
from stream.learning.scoring import engagement_score, page_kind
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches.windows import DAY_MS, MINUTE_MS

GOALS = frozenset({"registration", "conversion"})
# Form submits sit one step before the registration they complete, so the model never sees them.
_NOT_PREDICTORS = frozenset({"form_submits", "goals"})
_ENTRY_KINDS = ("home", "events", "event", "resources", "resource", "blog", "post")
WARM_UP = 30  # labelled sessions before the model's own predictions are used
QUALITY_POINTS = 120
# Feature names are built once and shared: every live session holds a dict of them, and a
# checkpoint pickles a shared string once (then a 2-byte reference), not once per session.
_ENTRY_KEYS = tuple((kind, f"entry_{kind}") for kind in _ENTRY_KINDS)


def _visitor_key(name: str) -> str:
    return sys.intern(f"v_{name}")


def _device_key(device: str) -> str:
    return sys.intern(f"device_{device}")


_COUNTED = {"page_view": "pages", "form_start": "form_starts", "form_submit": "form_submits",
            "resource_download": "downloads", "click": "clicks"}  # fmt: skip


@dataclass(slots=True)
class _Decayed:
    """Counts that halve every ``half_life_ms`` of event time."""

    values: dict[str, float] = field(default_factory=dict)
    at: int = 0

    def add(self, name: str, amount: float, ts: int, half_life_ms: int) -> None:
        if ts > self.at:
            factor = 0.5 ** ((ts - self.at) / half_life_ms) if self.at else 1.0
            for key in self.values:
                self.values[key] *= factor
            self.at = ts
        self.values[name] = self.values.get(name, 0.0) + amount


@dataclass(slots=True)
class _Visitor:
    day: int
    sessions: int = 0
    counts: _Decayed = field(default_factory=_Decayed)


@dataclass(slots=True)
class _Session:
    visitor: str
    device: str
    returning: bool
    last_seen: int
    counts: _Decayed = field(default_factory=_Decayed)
    max_scroll: float = 0.0
    entry: str = ""
    referred: bool = False
    leaves: int = 0
    page_since: int = 0  # ts of the current page's view
    frozen: dict[str, float] | None = None
    p_frozen: float = 0.0
    p_baseline: float = 0.0
    converted: bool = False
    score: float = 0.0
    p_convert: float = 0.0


class Engagement:
    """Scores sessions and learns P(convert) online; see the module docstring."""

    def __init__(
        self,
        *,
        half_life_ms: int = 10 * MINUTE_MS,
        goals: frozenset[str] = GOALS,
        predict_after: int = 1,
        timeout_ms: int = SESSION_TIMEOUT_MS,
    ) -> None:
        self.half_life_ms = half_life_ms
        self.goals = goals
        self.predict_after = predict_after
        self.timeout_ms = timeout_ms
        self.model = make_model("engagement")
        self.auc, self.logloss = make_model("auc"), make_model("logloss")
        self.base_auc, self.base_logloss = make_model("auc"), make_model("logloss")
        self.labelled = 0
        self.conversions = 0
        self.quality_over_time: list[list[float]] = []
        # Insertion order is idle order: a session moves to the end on every batch.
        self._sessions: dict[str, _Session] = {}
        self._visitors: dict[str, _Visitor] = {}
        self._swept_day = 0
        self._live = LiveScores()  # the snapshot's counts, kept as scores move

    def apply(self, batch: dict[str, Any], now_ms: int) -> list[dict[str, Any]]:
        """Fold one ``dojo.events`` batch in; the ``dojo.scores.engagement`` records it gives."""
        self.expire(now_ms)
        sid, vid = batch["session_id"], batch["visitor_id"]
        session = self._sessions.pop(sid, None)
        if session is None:
            session = self._start(sid, vid, batch.get("device", ""), now_ms)
        self._sessions[sid] = session
        session.last_seen = now_ms
        for event in batch["events"]:
            self._event(session, event)
        visitor = self._visitors[session.visitor]
        counts = self._counts(session, visitor)
        session.score = engagement_score(counts)
        session.p_convert = 1.0 if session.converted else self._predict(self._features(counts))
        self._scores().put(sid, session)
        return [{"visitor_id": vid, "session_id": sid, "score": session.score,
                 "p_convert": round(session.p_convert, 4), "ts": now_ms}]  # fmt: skip

    def expire(self, now_ms: int) -> int:
        """Close sessions idle for ``timeout_ms``, learning their labels; how many closed."""
        closed = pop_idle(self._sessions, now_ms, self.timeout_ms, self._scores().drop)
        for session in closed:
            self._learn(session, label=session.converted, now_ms=now_ms)
        day = now_ms // DAY_MS
        if day != self._swept_day:  # once a day: visitor ids rotate at midnight
            self._swept_day = day
            for vid in [v for v, s in self._visitors.items() if s.day < day - 1]:
                del self._visitors[vid]
        return len(closed)

    def _start(self, sid: str, vid: str, device: str, now_ms: int) -> _Session:
        day = now_ms // DAY_MS
        visitor = self._visitors.get(vid)
        if visitor is None or visitor.day != day:
            # Visitor ids rotate daily, so a visitor's history never crosses midnight.
            visitor = self._visitors[vid] = _Visitor(day)
        visitor.sessions += 1
        return _Session(vid, device, visitor.sessions > 1, now_ms)

    def _event(self, session: _Session, event: dict[str, Any]) -> None:
        kind, ts, props = event["type"], int(event["ts"]), event.get("props") or {}
        visitor = self._visitors[session.visitor]
        if kind in self.goals:
            if session.frozen is None:
                self._dwell(session, ts)
                session.page_since = 0
            self._freeze(session)
            session.counts.add("goals", 1.0, ts, self.half_life_ms)
            if not session.converted:
                session.converted = True
                visitor.counts.add("conversions", 1.0, ts, self.half_life_ms)
            return
        name = _COUNTED.get(kind)
        if name:
            session.counts.add(name, 1.0, ts, self.half_life_ms)
            visitor.counts.add(name, 1.0, ts, self.half_life_ms)
        if kind == "page_view":
            session.page_since = ts
            if not session.entry:
                session.entry = page_kind(event.get("url", ""))
                session.referred = bool(event.get("referrer"))
        elif kind == "page_leave":
            # Dwell is counted as time since the view, the same whether a page ends with a
            # leave or with a goal: a goal must not show itself through a missing dwell.
            self._dwell(session, ts)
            session.page_since = 0
            session.max_scroll = max(session.max_scroll, float(props.get("scroll_depth", 0)))
            session.leaves += 1
            if session.leaves >= self.predict_after:
                self._freeze(session)
        elif kind == "scroll":
            session.max_scroll = max(session.max_scroll, float(props.get("depth", 0)))

    def _dwell(self, session: _Session, ts: int) -> None:
        if session.page_since:
            minutes = max(ts - session.page_since, 0) / MINUTE_MS
            session.counts.add("dwell_min", minutes, ts, self.half_life_ms)

    def _counts(self, session: _Session, visitor: _Visitor) -> dict[str, float]:
        counts = {"dwell_min": 0.0, "clicks": 0.0, "form_starts": 0.0, "downloads": 0.0}
        counts.update(session.counts.values)
        counts["max_scroll"] = session.max_scroll
        counts["returning"] = float(session.returning)
        for name, value in visitor.counts.values.items():
            counts[_visitor_key(name)] = value
        counts["v_sessions"] = float(visitor.sessions - 1)
        for kind, key in _ENTRY_KEYS:
            counts[key] = float(session.entry == kind)
        counts["referred"] = float(session.referred)
        counts[_device_key(session.device)] = 1.0
        return counts

    @staticmethod
    def _features(counts: dict[str, float]) -> dict[str, float]:
        # Counts are heavy-tailed; log1p keeps one long session from dominating the scaler.
        return {k: math.log1p(v) for k, v in counts.items() if k not in _NOT_PREDICTORS}

    def _predict(self, x: dict[str, float]) -> float:
        if self.labelled < WARM_UP:
            # An untrained model says 0.5 for everyone; the running rate is a better guess.
            return self._baseline()
        return float(self.model.predict_proba_one(x).get(True, 0.0))

    def _baseline(self) -> float:
        # Laplace-smoothed running conversion rate of the sessions labelled so far.
        return (self.conversions + 1) / (self.labelled + 2)

    def _freeze(self, session: _Session) -> None:
        if session.frozen is not None:
            return
        visitor = self._visitors[session.visitor]
        session.frozen = self._features(self._counts(session, visitor))
        session.p_frozen = self._predict(session.frozen)
        session.p_baseline = self._baseline()

    def _learn(self, session: _Session, *, label: bool, now_ms: int) -> None:
        self._freeze(session)
        assert session.frozen is not None
        self.auc.update(label, session.p_frozen)
        self.logloss.update(label, session.p_frozen)
        self.base_auc.update(label, session.p_baseline)
        self.base_logloss.update(label, session.p_baseline)
        self.model.learn_one(session.frozen, label)
        self.labelled += 1
        self.conversions += int(label)
        minute = now_ms - now_ms % MINUTE_MS
        point = [minute, round(float(self.auc.get()), 4)]
        if self.quality_over_time and self.quality_over_time[-1][0] >= minute:
            self.quality_over_time[-1][1] = point[1]  # one point per minute: its latest value
        else:
            self.quality_over_time.append(point)
            del self.quality_over_time[:-QUALITY_POINTS]

    def frozen(self, session_id: str) -> dict[str, float] | None:
        """The features a live session's recorded prediction was made from, once made."""
        session = self._sessions.get(session_id)
        return None if session is None or session.frozen is None else dict(session.frozen)

    def quality(self) -> dict[str, Any]:
        """Rolling AUC and log loss of the model and of the constant-rate baseline."""
        if not self.labelled:
            return {"auc": None, "logloss": None, "baseline_auc": None,
                    "baseline_logloss": None, "n": 0}  # fmt: skip
        return {
            "auc": round(float(self.auc.get()), 4),
            "logloss": round(float(self.logloss.get()), 4),
            "baseline_auc": round(float(self.base_auc.get()), 4),
            "baseline_logloss": round(float(self.base_logloss.get()), 4),
            "n": self.labelled,
        }

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The ``engagement`` channel payload."""
        histogram, by_area, first = self._scores().view(self._sessions, now_ms, self.timeout_ms)
        top = [{"session": sid, "score": s.score, "p_convert": round(s.p_convert, 4)}
               for sid, s in ((sid, self._sessions[sid]) for sid in first)]  # fmt: skip
        return {"score_histogram": histogram, "score_by_area": by_area, "active_sessions": top,
                "quality": self.quality(),
                "quality_over_time": [list(p) for p in self.quality_over_time]}  # fmt: skip

    def _scores(self) -> LiveScores:
        if "_live" not in self.__dict__ or not self._live.built:  # restored: count once
            self._live = LiveScores.of(self._sessions)
        return self._live

    def to_bytes(self) -> bytes:
        """The whole state, for a checkpoint."""
        return checkpoint(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Engagement:
        """Restore a checkpoint written by ``to_bytes``."""
        return restore(data, cls)

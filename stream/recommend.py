"""Recommendations: river matrix factorisation on implicit feedback, blended with popularity.

Items are site paths without their query: pages, dojo events (``/events/<slug>``) and
resources (``/resources/<slug>``); a register or check-in page counts for its dojo event.
Feedback weights: a view is weak (``VIEW``), a download or registration strong. Two
``BiasedMF`` models learn from it: one keyed by visitor (taste) and one keyed by the page
the visitor is on (what people open next from here). Each learns every positive with one
sampled unseen item as a zero, the usual trick for implicit feedback.

Ranking blends both models with a time-decayed popularity prior: a new visitor or a new item
leans on popularity until the models have evidence (``_trust``). A dojo event whose
``until_ms`` has passed is never recommended, and items not seen for ``forget_ms`` drop out.
Quality is prequential: before learning from a visitor's move to another item, check
whether it was in the top 5 shown for the page they were on; the same for popularity alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stream.learners import checkpoint, make_model, predict_many, restore
from stream.windows import DAY_MS, HOUR_MS

VIEW, DOWNLOAD, REGISTRATION = 1.0, 3.0, 5.0
TOP_ITEMS = 10
_SUBPAGES = ("register", "check-in")


def item_of(url: str) -> str:
    """The catalogue item of a site url: its path, with event sub-pages folded into the event."""
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/") or "/"
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "events" and parts[3] in _SUBPAGES:
        return "/".join(parts[:3])
    return path


def item_kind(item: str) -> str:
    """``event``, ``resource`` or ``page``."""
    parts = item.split("/")
    if len(parts) == 3 and parts[1] == "events":
        return "event"
    if len(parts) == 3 and parts[1] == "resources":
        return "resource"
    return "page"


@dataclass(slots=True)
class _Item:
    kind: str
    until_ms: int | None
    last_seen: int
    popularity: float = 0.0  # decayed feedback weight
    at: int = 0

    def decayed(self, now_ms: int, half_life_ms: int) -> float:
        if now_ms <= self.at:
            return self.popularity
        return float(self.popularity * 0.5 ** ((now_ms - self.at) / half_life_ms))


class Recommender:
    """Online recommendations with a popularity baseline; see the module docstring."""

    max_visitors = 50_000  # visitors remembered before the oldest half is forgotten

    def __init__(
        self,
        *,
        half_life_ms: int = 6 * HOUR_MS,
        forget_ms: int = 30 * DAY_MS,
        trust: float = 5.0,
        seed: int = 42,
    ) -> None:
        self.half_life_ms = half_life_ms
        self.forget_ms = forget_ms
        self.trust = trust
        self.by_visitor = make_model("recommender", seed)
        self.by_context = make_model("recommender", seed + 1)
        self._rng = random.Random(seed)
        self.items: dict[str, _Item] = {}
        self._current: dict[str, str] = {}  # visitor -> item they are on
        self._seen: dict[str, int] = {}  # visitor -> feedback count (trust in their taste)
        self._context_seen: dict[str, int] = {}
        self.checks = 0
        self.hits = 0
        self.baseline_hits = 0

    def set_catalog(self, items: Mapping[str, Mapping[str, Any]], now_ms: int = 0) -> None:
        """Declare items and their validity: ``{item: {"kind", "until_ms"}}``."""
        for name, info in items.items():
            item = self.items.get(name)
            until = info.get("until_ms")
            if item is None:
                self.items[name] = _Item(info.get("kind") or item_kind(name), until, now_ms)
            else:
                item.until_ms = until

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Check, then learn from one ``dojo.events`` batch (prequential)."""
        visitor = batch["visitor_id"]
        for event in batch["events"]:
            kind = event["type"]
            if kind == "page_view":
                self._feedback(visitor, item_of(event["url"]), VIEW, int(event["ts"]))
            elif kind == "resource_download":
                self._feedback(visitor, item_of(event["url"]), DOWNLOAD, int(event["ts"]))
            elif kind == "registration":
                self._feedback(visitor, item_of(event["url"]), REGISTRATION, int(event["ts"]))
            elif kind == "attendance":
                # People check in to a dojo event that is happening: from now on it is past.
                held = self._ensure(item_of(event["url"]), int(event["ts"]))
                if held.until_ms is None or held.until_ms > int(event["ts"]):
                    held.until_ms = int(event["ts"])
        self.forget(now_ms)

    def _ensure(self, name: str, ts: int) -> _Item:
        item = self.items.get(name)
        if item is None:
            item = self.items[name] = _Item(item_kind(name), None, ts)
        item.last_seen = max(item.last_seen, ts)
        return item

    def _feedback(self, visitor: str, name: str, weight: float, ts: int) -> None:
        current = self._current.get(visitor)
        if current is not None and current != name and weight == VIEW:
            shown = {r["item"] for r in self.recommend(visitor, 5, ts)}
            popular = {r["item"] for r in self.popular(5, ts, exclude=current)}
            self.checks += 1
            self.hits += name in shown
            self.baseline_hits += name in popular
        item = self._ensure(name, ts)
        item.popularity = item.decayed(ts, self.half_life_ms) + weight
        item.at = max(item.at, ts)
        negative = self._negative(name)
        self.by_visitor.learn_one(visitor, name, weight)
        if negative:
            self.by_visitor.learn_one(visitor, negative, 0.0)
        self._seen[visitor] = self._seen.get(visitor, 0) + 1
        if current is not None and current != name:
            context = f"@{current}"
            self.by_context.learn_one(context, name, weight)
            if negative:
                self.by_context.learn_one(context, negative, 0.0)
            self._context_seen[context] = self._context_seen.get(context, 0) + 1
        self._current[visitor] = name

    def _negative(self, positive: str) -> str | None:
        names = list(self.items)
        if len(names) < 2:
            return None
        for _ in range(3):
            pick = names[self._rng.randrange(len(names))]
            if pick != positive:
                return pick
        return None

    def _valid(self, now_ms: int) -> list[str]:
        return [n for n, i in self.items.items() if i.until_ms is None or i.until_ms > now_ms]

    def popular(self, n: int, now_ms: int, exclude: str | None = None) -> list[dict[str, Any]]:
        """The ``n`` most popular valid items (the baseline and the prior)."""
        scored = [(self.items[name].decayed(now_ms, self.half_life_ms), name)
                  for name in self._valid(now_ms) if name != exclude]  # fmt: skip
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [{"item": name, "score": round(score, 4), "reason": "popular right now"}
                for score, name in scored[:n]]  # fmt: skip

    def _trust(self, evidence: int) -> float:
        return evidence / (evidence + self.trust)

    def recommend(self, visitor_id: str, n: int, now_ms: int) -> list[dict[str, Any]]:
        """Top ``n`` items for ``visitor_id``, never the page they are on nor a past event."""
        current = self._current.get(visitor_id)
        context = f"@{current}"
        names = [name for name in self._valid(now_ms) if name != current]
        if not names:
            return []
        pops = [self.items[name].decayed(now_ms, self.half_life_ms) for name in names]
        top = max(pops) or 1.0
        w_user = self._trust(self._seen.get(visitor_id, 0))
        w_ctx = self._trust(self._context_seen.get(context, 0)) if current else 0.0
        w_prior = 1 - max(w_user, w_ctx)
        zeros = [0.0] * len(names)
        users = (
            [_squash(r) for r in predict_many(self.by_visitor, visitor_id, names)]
            if w_user
            else zeros
        )
        ctxs = (
            [_squash(r) for r in predict_many(self.by_context, context, names)] if w_ctx else zeros
        )
        ranked = sorted(
            (
                (-(w_prior * pop / top + w_user * user + w_ctx * ctx), name, i)
                for i, (name, pop, user, ctx) in enumerate(
                    zip(names, pops, users, ctxs, strict=True)
                )
            )
        )[:n]
        out = []
        for negative, name, i in ranked:
            parts = {"popular right now": w_prior * pops[i] / top,
                     "matches your interests": w_user * users[i],
                     f"often next after {current}": w_ctx * ctxs[i]}  # fmt: skip
            out.append({"item": name, "score": round(-negative, 4),
                        "reason": max(parts, key=lambda k: parts[k])})  # fmt: skip
        return out

    def forget(self, now_ms: int) -> None:
        """Drop items unseen for ``forget_ms`` and visitors' positions from another day."""
        for name in [n for n, i in self.items.items() if now_ms - i.last_seen > self.forget_ms]:
            del self.items[name]
        if len(self._current) > self.max_visitors:  # ids rotate daily; keep memory bounded
            for visitor in list(self._current)[: len(self._current) // 2]:
                del self._current[visitor]
                self._seen.pop(visitor, None)
                # The model keeps a latent vector per visitor too: drop it with the rest, or
                # every day's new ids would grow the model and its checkpoint for ever.
                self.by_visitor.u_latents.pop(visitor, None)
                self.by_visitor.u_biases.pop(visitor, None)

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The ``recommendations`` channel payload."""
        return {
            "hit_rate_at_5": round(self.hits / self.checks, 4) if self.checks else None,
            "baseline_hit_rate_at_5": (
                round(self.baseline_hits / self.checks, 4) if self.checks else None
            ),
            "n": self.checks,
            "items": len(self._valid(now_ms)),
            "top_items": self.popular(TOP_ITEMS, now_ms),
        }

    def to_bytes(self) -> bytes:
        """The whole state, for a checkpoint."""
        return checkpoint(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Recommender:
        """Restore a checkpoint written by ``to_bytes``."""
        return restore(data, cls)


def _squash(rating: float) -> float:
    # Ratings are feedback weights (0..REGISTRATION); map them onto 0..1 like the prior.
    return 1.0 / (1.0 + math.exp(-(rating - 1.0)))

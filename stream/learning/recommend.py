"""Recommendations: river matrix factorisation on implicit feedback, blended with popularity.

Items are site paths without their query: pages, dojo events (``/events/<slug>``) and
resources (``/resources/<slug>``); a register or check-in page counts for its dojo event.
Only paths that are items of the site (``stream.learning.items``: safe to show and allow-listed)
enter the model: a url an attacker typed into a beacon request is never recommended.
Feedback weights: a view is weak (``VIEW``), a download or registration strong. Two
``BiasedMF`` models learn from it: one keyed by visitor (taste) and one keyed by the page
the visitor is on (what people open next from here). Each learns every positive with one
sampled unseen item as a zero, the usual trick for implicit feedback.

Ranking blends both models with a time-decayed popularity prior: a new visitor or a new item
leans on popularity until the models have evidence (``_trust``). A dojo event whose
``until_ms`` has passed is never recommended, and items not seen for ``forget_ms`` drop out.
Once content is published, only items of the published ``catalogue`` are (never checkpointed).
Quality is prequential: before learning from a visitor's move to another item, check
whether it was in the top 5 shown for the page they were on; the same for popularity alone.
Every ``check_every``-th move is checked: the estimate stays unbiased, and ranking the
catalogue on every move cost more than all the learning (``bench/learning_apply.py``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream.learning.catalogue import Catalogue
from stream.learning.items import SITE_ITEMS, ItemPaths, item_kind, item_of
from stream.learning.learners import checkpoint, make_model, restore
from stream.learning.ranking import blend, squashed
from stream.learning.serving import NEXT_AFTER, REASONS
from stream.sketches.windows import DAY_MS, HOUR_MS

VIEW, DOWNLOAD, REGISTRATION = 1.0, 3.0, 5.0
FEEDBACK = {"page_view": VIEW, "resource_download": DOWNLOAD, "registration": REGISTRATION}
TOP_ITEMS = 10


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
    # Defaults for checkpoints written before these existed (restored with pickle, they
    # carry only the attributes of their day); ``__init__`` sets them on new states.
    check_every = 4
    _moves = 0
    _forget_at = 0
    site_items = SITE_ITEMS
    catalogue: Catalogue | None = None  # None: no catalogue followed, every item may be shown

    def __init__(
        self,
        *,
        half_life_ms: int = 6 * HOUR_MS,
        forget_ms: int = 30 * DAY_MS,
        trust: float = 5.0,
        seed: int = 42,
        check_every: int = 4,
        site_items: ItemPaths = SITE_ITEMS,
    ) -> None:
        self.site_items = site_items
        self.half_life_ms = half_life_ms
        self.check_every = check_every
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
        self._moves = 0  # moves to another item: every ``check_every``-th one is checked
        self._forget_at = 0  # no item can be forgotten before this time

    def set_catalog(self, items: Mapping[str, Mapping[str, Any]], now_ms: int = 0) -> None:
        """Declare items and their validity: ``{item: {"kind", "until_ms"}}``."""
        for name, info in items.items():
            item = self.items.get(name)
            until = info.get("until_ms")
            if item is None:
                self.items[name] = _Item(info.get("kind") or item_kind(name), until, now_ms)
                self._forget_at = min(self._forget_at, now_ms + self.forget_ms)
            else:
                item.until_ms = until

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Check, then learn from one ``dojo.events`` batch (prequential)."""
        visitor = batch["visitor_id"]
        for event in batch["events"]:
            kind = event["type"]
            weight = FEEDBACK.get(kind)
            if weight is None and kind != "attendance":
                continue
            name = self.site_items.item(item_of(event["url"]))
            if name is None:  # not an item of the site: nothing to learn, nothing to show
                continue
            ts = int(event["ts"])
            if weight is not None:
                self._feedback(visitor, name, weight, ts)
            else:
                # People check in to a dojo event that is happening: from now on it is past.
                held = self._ensure(name, ts)
                if held.until_ms is None or held.until_ms > ts:
                    held.until_ms = ts
        self.forget(now_ms)

    def use_items(self, site_items: ItemPaths) -> None:
        """Recommend only ``site_items`` from now on, forgetting items that are not among them.

        For a restored checkpoint: the setting may have changed since it was written, and a
        checkpoint from before items were checked may hold strings nobody should be shown.
        """
        self.site_items = site_items
        for name in [n for n in self.items if n not in site_items]:
            del self.items[name]

    def _ensure(self, name: str, ts: int) -> _Item:
        item = self.items.get(name)
        if item is None:
            item = self.items[name] = _Item(item_kind(name), None, ts)
            self._forget_at = min(self._forget_at, ts + self.forget_ms)
        item.last_seen = max(item.last_seen, ts)
        return item

    def _feedback(self, visitor: str, name: str, weight: float, ts: int) -> None:
        current = self._current.get(visitor)
        moved = current is not None and current != name and weight == VIEW
        if moved:
            self._moves += 1
        if moved and self._moves % self.check_every == 0:
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
        c = self.catalogue
        return [n for n, i in self.items.items() if (i.until_ms is None or i.until_ms > now_ms)
                and (c is None or c.allows(n, now_ms))]  # fmt: skip

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
        return self.recommend_many([visitor_id], n, now_ms)[visitor_id]

    def recommend_many(
        self, visitors: Iterable[str], n: int, now_ms: int
    ) -> dict[str, list[dict[str, Any]]]:
        """``recommend`` for many visitors, ranking the catalogue for all of them at once.

        The catalogue, its popularity and both models' item vectors are read once; each
        model scores all its visitors (or pages) in one matrix product.
        """
        visitors = list(visitors)
        names = self._valid(now_ms)
        if not names:
            return {v: [] for v in visitors}
        items = [self.items[name] for name in names]
        pops = _decayed(items, now_ms, self.half_life_ms)
        column = {name: i for i, name in enumerate(names)}
        name_rank = np.empty(len(names), dtype=np.intp)  # ties rank by name, as sorted() does
        name_rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        currents = [self._current.get(v) for v in visitors]
        w_user = np.array([self._trust(self._seen.get(v, 0)) for v in visitors])
        w_ctx = np.array(
            [self._trust(self._context_seen.get(f"@{c}", 0)) if c else 0.0 for c in currents]
        )
        # One row per visitor; a model is asked only where its weight is not zero.
        user = np.zeros((len(visitors), len(names)))
        rows = np.flatnonzero(w_user)
        user[rows] = squashed(self.by_visitor, [visitors[row] for row in rows], names)
        contexts = sorted({f"@{c}" for c, w in zip(currents, w_ctx, strict=True) if w})
        by_context = dict(zip(contexts, squashed(self.by_context, contexts, names), strict=True))
        ctx = np.zeros_like(user)
        for row in np.flatnonzero(w_ctx):
            ctx[row] = by_context[f"@{currents[row]}"]
        shown = np.ones_like(user, dtype=bool)
        for r, current in enumerate(currents):
            if current in column:
                shown[r, column[current]] = False
        blended, reason = blend(pops, shown, (w_user, user), (w_ctx, ctx))
        order = np.lexsort((np.broadcast_to(name_rank, blended.shape), -blended))[:, :n]
        out: dict[str, list[dict[str, Any]]] = {}
        for r, visitor in enumerate(visitors):
            labels = (*REASONS, f"{NEXT_AFTER}{currents[r]}")
            out[visitor] = [
                {"item": names[i], "score": round(float(blended[r, i]), 4),
                 "reason": labels[reason[r, i]]}
                for i in order[r] if shown[r, i]
            ]  # fmt: skip
        return out

    def forget(self, now_ms: int) -> None:
        """Drop items unseen for ``forget_ms`` and visitors' positions from another day."""
        if now_ms > self._forget_at:  # called per batch: scan only when one may have expired
            for name in [n for n, i in self.items.items() if now_ms - i.last_seen > self.forget_ms]:
                del self.items[name]
            oldest = min((i.last_seen for i in self.items.values()), default=now_ms)
            self._forget_at = oldest + self.forget_ms
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

    def __getstate__(self) -> dict[str, Any]:
        # The catalogue is rebuilt from its compacted topic: checkpoints never hold it.
        return {k: v for k, v in self.__dict__.items() if k != "catalogue"}

    def to_bytes(self) -> bytes:
        """The whole state, for a checkpoint."""
        return checkpoint(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Recommender:
        """Restore a checkpoint written by ``to_bytes``."""
        return restore(data, cls)


def _decayed(items: list[_Item], now_ms: int, half_life_ms: int) -> np.ndarray:
    """``[item.decayed(now_ms, half_life_ms) for item in items]`` as one array operation."""
    popularity = np.array([item.popularity for item in items])
    at = np.array([item.at for item in items], dtype=np.float64)
    faded = popularity * 0.5 ** ((now_ms - at) / half_life_ms)
    return np.where(now_ms <= at, popularity, faded)

"""Ranking: the recommender's popularity prior and model scores, blended per visitor.

Every part is on a 0..1 scale: the prior is popularity over the most popular item a visitor
may be shown, a model's rating goes through a logistic (``squashed``). Each model's part is
weighted by the trust in its evidence (0..1) and the prior takes what the stronger of the
two leaves; an item's reason is the part that gave it the most.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stream.learning.biased_mf import predict_grid


def squashed(model: Any, keys: list[str], names: list[str]) -> np.ndarray:
    """``model``'s ratings of ``names`` for each of ``keys``, mapped onto 0..1 like the prior."""
    # Ratings are feedback weights (0 for a sampled negative up to a registration's 5).
    return np.asarray(1.0 / (1.0 + np.exp(-(predict_grid(model, keys, names) - 1.0))))


def blend(
    pops: np.ndarray,
    shown: np.ndarray,
    user: tuple[np.ndarray, np.ndarray],
    context: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Blended scores (``-inf`` where not shown) and the index of each score's leading part.

    ``pops`` is each item's decayed popularity; ``shown`` (visitors x items) says what may be
    shown; ``user`` and ``context`` are each a model's weight per visitor and its squashed
    scores (visitors x items). The parts are, in order: prior, user model, context model.
    """
    w_user, by_user = user
    w_ctx, by_ctx = context
    top = np.where(shown, pops, -np.inf).max(axis=1)
    top = np.where(top > 0, top, 1.0)  # a catalogue nobody touched yet: all priors 0
    parts = np.array(
        [
            (1 - np.maximum(w_user, w_ctx))[:, None] * pops / top[:, None],
            w_user[:, None] * by_user,
            w_ctx[:, None] * by_ctx,
        ]
    )
    blended = np.where(shown, parts.sum(axis=0), -np.inf)
    return blended, parts.argmax(axis=0)  # the first largest part, as max() over them picks

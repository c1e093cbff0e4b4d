"""The one place that reads river's ``BiasedMF`` weights directly, to score a whole grid.

``predict_one`` per (visitor, page) pair costs 100x+ a matrix product over the same weights
(bench/sketch_codec.py), and ranking the catalogue was the learning agent's largest cost.
This reads the model's ``global_mean``, ``u_biases``, ``i_biases``, ``u_latents`` and
``i_latents`` as river ``WRITTEN_FOR`` lays them out; a test holds the result equal to
``predict_one`` and fails on any other river version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

LIBRARY = "river"
WRITTEN_FOR = "0.26.1"


def predict_grid(model: Any, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
    """``model.predict_one(user, item)`` for every user (rows) and item (columns).

    Same arithmetic, and the same side effects: river creates a latent vector on first
    sight of a user or item, drawn from the model's seeded initialiser; here the users'
    draws come first, in order, then the items', as ``predict_one`` makes them for one user.
    """
    if not users or not items:
        return np.zeros((len(users), len(items)))
    user_biases = np.fromiter((model.u_biases[u] for u in users), float, len(users))
    # np.array, not np.stack: the same matrix at a quarter of the cost for short vectors.
    user_vectors = np.array([model.u_latents[u] for u in users])
    item_biases = np.fromiter((model.i_biases[i] for i in items), float, len(items))
    item_vectors = np.array([model.i_latents[i] for i in items])
    base = model.global_mean.get() + user_biases[:, None] + item_biases[None, :]
    return np.asarray(base + user_vectors @ item_vectors.T)

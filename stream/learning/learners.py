"""Online learners behind one small protocol, river models from one factory, contract checks.

Every learner of Dojo Pulse (engagement, recommendations, segments, anomalies) is a plain
class fed in prequential order: it scores or predicts first, then learns. Time is passed in
as ``now_ms``. State is checkpointed with ``to_bytes()`` and restored with ``from_bytes()``,
and a restored learner continues exactly where the original stood.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from river import anomaly, cluster, compose, linear_model, metrics, optim, preprocessing, reco
from river import utils as river_utils

from stream.sketches.codec import check_libraries, library_version

# Rolling windows of the quality metrics: long enough to be stable, short enough to show drift.
QUALITY_WINDOW = 1000
CLIP = 4.0
LIBRARY = "river"  # a pickled river model is only read back by the river that wrote it
# Checkpoints pickle our own classes by module path. These are the paths the learners' modules
# had before they moved into ``stream.learning`` (and the sketches into ``stream.sketches``),
# so that a checkpoint written before the move still restores, tagged with its river version
# or not: the tag is a plain tuple, and the codec and library adapters pickle no class.
MOVED = {
    "stream.anomaly": "stream.learning.anomaly",
    "stream.engagement": "stream.learning.engagement",
    "stream.items": "stream.learning.items",
    "stream.learners": "stream.learning.learners",
    "stream.learning": "stream.learning.state",
    "stream.minute_features": "stream.learning.minute_features",
    "stream.recommend": "stream.learning.recommend",
    "stream.segments": "stream.learning.segments",
    "stream.serving": "stream.learning.serving",
    "stream.counters": "stream.sketches.counters",
    "stream.quantiles": "stream.sketches.quantiles",
    "stream.uniques": "stream.sketches.uniques",
    "stream.windows": "stream.sketches.windows",
    "stream.visits": "stream.metrics.visits",
}


class Learner(Protocol):
    """What an agent needs from a learner: a live snapshot and a checkpoint."""

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The live channel payload."""
        ...

    def to_bytes(self) -> bytes:
        """The whole state, for a checkpoint."""
        ...


L = TypeVar("L")


class Live(Protocol):
    """A session a learner keeps while it is live."""

    last_seen: int


S = TypeVar("S", bound=Live)


def pop_idle(
    live: dict[str, S], now_ms: int, timeout_ms: int, closing: Callable[[str], None] | None = None
) -> list[S]:
    """Remove and return the sessions idle for ``timeout_ms``, oldest first.

    ``live`` must be in idle order: a learner moves a session to the end on every batch,
    so the scan stops at the first session still live instead of visiting all of them.
    ``closing`` is told the id of each session removed.
    """
    closed = []
    while live:
        sid, session = next(iter(live.items()))
        if now_ms - session.last_seen < timeout_ms:
            break
        del live[sid]
        closed.append(session)
        if closing is not None:
            closing(sid)
    return closed


def checkpoint(learner: object) -> bytes:
    """Serialise a learner with the river version its pickle depends on."""
    tagged = (LIBRARY, library_version(LIBRARY), learner)
    return pickle.dumps(tagged, protocol=pickle.HIGHEST_PROTOCOL)


class _Unpickler(pickle.Unpickler):
    """Finds our classes where they live now, whatever path the checkpoint names."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get(module, module), name)


def unpickle(data: bytes) -> Any:
    """Load a pickle of our own checkpoints (``MOVED`` module paths mapped to today's)."""
    # The bytes come only from our own checkpoint table, never from a client.
    return _Unpickler(io.BytesIO(data)).load()


def restore(data: bytes, kind: type[L]) -> L:
    """Rebuild a learner written by ``checkpoint``; refuses another type or river version."""
    loaded = unpickle(data)
    if isinstance(loaded, tuple) and len(loaded) == 3 and loaded[0] == LIBRARY:
        _, wrote, learner = loaded
        check_libraries(kind.__name__, {LIBRARY: wrote})
    else:
        learner = loaded  # written before checkpoints named their river version
    if not isinstance(learner, kind):
        raise TypeError(f"checkpoint holds {type(learner).__name__}, not {kind.__name__}")
    return learner


def clip_scaled(x: dict[str, float]) -> dict[str, float]:
    """Standardised features clipped to +-``CLIP`` deviations."""
    return {k: min(max(v, -CLIP), CLIP) for k, v in x.items()}


def make_model(name: str, seed: int = 42) -> Any:
    """The one place river models are built; ``name`` says which role the model plays."""
    if name == "engagement":
        # A feature the scaler has seen nearly constant scales to huge values when it moves;
        # clipping keeps one rare feature from pinning the probability at 0 or 1. Adam copes
        # with scales that drift while the scaler warms up.
        return compose.Pipeline(
            preprocessing.StandardScaler(),
            compose.FuncTransformer(clip_scaled),
            linear_model.LogisticRegression(optimizer=optim.Adam(0.01), l2=1e-3),
        )
    if name == "recommender":
        return reco.BiasedMF(
            n_factors=8,
            bias_optimizer=optim.SGD(0.02),
            latent_optimizer=optim.SGD(0.05),
            l2_bias=1e-3,
            l2_latent=1e-3,
            weight_initializer=optim.initializers.Zeros(),
            latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=seed),
            seed=seed,
        )
    if name == "segments":
        # Features are shares and squashed counts in [0, 1], so centres start there too.
        return cluster.KMeans(n_clusters=4, halflife=0.05, mu=0.3, sigma=0.2, seed=seed)
    if name == "anomaly":
        return compose.Pipeline(
            preprocessing.MinMaxScaler(),
            anomaly.HalfSpaceTrees(n_trees=15, height=6, window_size=120, seed=seed),
        )
    if name == "auc":
        return river_utils.Rolling(metrics.ROCAUC, window_size=QUALITY_WINDOW)
    if name == "logloss":
        return river_utils.Rolling(metrics.LogLoss, window_size=QUALITY_WINDOW)
    raise ValueError(f"unknown model {name!r}")


def check_estimator(model: Any, learn: Callable[[Any], None], probe: Callable[[Any], Any]) -> None:
    """Assert the river contract: pure predict, pickle round-trip, clone starts afresh."""
    fresh_probe = probe(model.clone())
    learn(model)
    before = pickle.dumps(model)
    first = probe(model)
    if probe(model) != first or pickle.dumps(model) != before:
        raise AssertionError("predicting changed the model")
    copy = pickle.loads(before)  # noqa: S301 - bytes made just above
    if probe(copy) != first:
        raise AssertionError("a pickled copy predicts differently")
    if probe(model.clone()) != fresh_probe:
        raise AssertionError("clone kept learned state")


def check_resume(
    make: Callable[[], L],
    first: Callable[[L], None],
    second: Callable[[L], None],
    probe: Callable[[L], Any],
) -> None:
    """Assert checkpoint, restore and continue gives what an uninterrupted learner gives."""
    whole = make()
    first(whole)
    second(whole)
    half = make()
    first(half)
    resumed = restore(checkpoint(half), type(half))
    second(resumed)
    expected, got = probe(whole), probe(resumed)
    if expected != got:
        raise AssertionError(f"resumed learner differs: {got!r} != {expected!r}")

"""Where our code relies on a library's internal layout, the version it was written for."""

from __future__ import annotations

import pickle
from importlib.metadata import version
from types import ModuleType

import numpy as np
import pytest

from stream.learning import biased_mf
from stream.learning.engagement import Engagement
from stream.learning.learners import checkpoint, make_model, restore
from stream.runtime import assignors
from stream.sketches import dense_store, hll
from stream.sketches.codec import CheckpointError


@pytest.mark.parametrize(
    "adapter", [hll, dense_store, biased_mf, assignors], ids=lambda m: m.__name__
)
def test_adapter_was_written_for_the_installed_library(adapter: ModuleType) -> None:
    installed = version(adapter.LIBRARY)
    assert installed == adapter.WRITTEN_FOR, (
        f"{adapter.LIBRARY} is {installed}, {adapter.__name__} was written for"
        f" {adapter.WRITTEN_FOR}: re-check what its docstring says it relies on, run"
        " bench/sketch_codec.py to see whether the public API is now fast enough, and"
        " convert or drop checkpoints of the old version before raising WRITTEN_FOR"
    )


def test_the_fan_out_was_written_for_the_installed_uvicorn() -> None:
    from live_feed import frame_protocol

    installed = version(frame_protocol.LIBRARY)
    assert installed == frame_protocol.WRITTEN_FOR, (
        f"uvicorn is {installed}, live_feed/frame_protocol.py subclasses the internal"
        f" WebSocketsSansIOProtocol of {frame_protocol.WRITTEN_FOR}: re-check the methods it"
        " overrides and the attributes it reads, run tests/live_feed and python -m bench.fanout,"
        " then raise WRITTEN_FOR (or move to the public send path if it is now within 1.5x)"
    )


def _trained() -> object:
    model = make_model("recommender")
    for n in range(200):
        model.learn_one(f"u{n % 7}", f"/p/{n % 11}", float(n % 5))
    return model


@pytest.mark.parametrize(
    ("users", "items"),
    [
        (["u1", "u3", "u1", "u6"], ["/p/2", "/p/9", "/never-seen", "/p/2"]),
        # An unseen user draws its vector before the unseen item's, as in predict_one.
        (["\x00 new ' user"], ["/p/2", "/never-seen", "/p/10"]),
    ],
)
def test_grid_equals_predict_one_with_the_same_side_effects(
    users: list[str], items: list[str]
) -> None:
    ours, theirs = _trained(), _trained()
    grid = biased_mf.predict_grid(ours, users, items)
    one_by_one = np.array([[theirs.predict_one(u, i) for i in items] for u in users])
    assert grid.shape == (len(users), len(items))
    assert np.allclose(grid, one_by_one)
    later = [[ours.predict_one(u, i) for i in items] for u in users]
    assert np.allclose(later, [[theirs.predict_one(u, i) for i in items] for u in users])
    assert biased_mf.predict_grid(ours, [], items).shape == (0, len(items))


def test_learner_checkpoints_name_their_river_version() -> None:
    learner = Engagement()
    tag, wrote, _ = pickle.loads(checkpoint(learner))
    assert (tag, wrote) == ("river", version("river"))
    assert isinstance(restore(checkpoint(learner), Engagement), Engagement)
    older = pickle.dumps(("river", "0.1.0", learner))
    with pytest.raises(CheckpointError, match=r"written with river 0\.1\.0, this worker has"):
        restore(older, Engagement)


def test_learner_checkpoint_from_before_the_version_tag_restores() -> None:
    untagged = pickle.dumps(Engagement(), protocol=pickle.HIGHEST_PROTOCOL)
    assert isinstance(restore(untagged, Engagement), Engagement)
    with pytest.raises(TypeError, match="not Engagement"):
        restore(pickle.dumps(("river", version("river"), [1, 2])), Engagement)

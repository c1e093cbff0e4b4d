"""The river model factory and the shared contract checks."""

from __future__ import annotations

import pytest

from stream.learning.learners import check_estimator, check_resume, checkpoint, make_model, restore

SAMPLES = [({"a": float(i % 7), "b": float(i % 3)}, i % 2 == 0) for i in range(60)]


def test_engagement_model_honours_the_river_contract() -> None:
    def learn(model: object) -> None:
        for x, y in SAMPLES:
            model.learn_one(x, y)  # type: ignore[attr-defined]

    check_estimator(
        make_model("engagement"), learn, lambda m: m.predict_proba_one({"a": 3.0, "b": 1.0})
    )


def test_recommender_and_segments_models_honour_the_river_contract() -> None:
    def learn_reco(model: object) -> None:
        for i in range(40):
            model.learn_one(f"u{i % 4}", f"i{i % 5}", 1.0)  # type: ignore[attr-defined]

    check_estimator(make_model("recommender"), learn_reco, lambda m: m.predict_one("u1", "i2"))

    def learn_km(model: object) -> None:
        for x, _ in SAMPLES:
            model.learn_one(x)  # type: ignore[attr-defined]

    check_estimator(make_model("segments"), learn_km, lambda m: m.predict_one({"a": 1.0, "b": 2.0}))


def test_anomaly_model_scores_purely() -> None:
    def learn(model: object) -> None:
        for x, _ in SAMPLES:
            model.learn_one(x)  # type: ignore[attr-defined]

    check_estimator(make_model("anomaly"), learn, lambda m: m.score_one({"a": 6.0, "b": 0.0}))


class Leaky:
    """A model whose predict changes its state."""

    def __init__(self) -> None:
        self.n = 0

    def clone(self) -> Leaky:
        return Leaky()

    def predict_one(self, x: object) -> int:
        self.n += 1
        return self.n


class Forgetful:
    """A learner whose checkpoint drops what it saw."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __getstate__(self) -> dict[str, object]:
        return {"seen": []}

    def __setstate__(self, state: dict[str, list[int]]) -> None:
        self.seen = state["seen"]


def test_check_estimator_catches_a_model_whose_predict_learns() -> None:
    with pytest.raises(AssertionError, match="predicting changed"):
        check_estimator(Leaky(), lambda m: None, lambda m: m.predict_one({}))


def test_check_resume_catches_state_lost_in_a_checkpoint() -> None:
    def feed(values: list[int]):  # type: ignore[no-untyped-def]
        return lambda learner: learner.seen.extend(values)

    with pytest.raises(AssertionError, match="resumed learner differs"):
        check_resume(Forgetful, feed([1, 2]), feed([3]), lambda learner: list(learner.seen))


def test_restore_refuses_a_checkpoint_of_another_kind() -> None:
    with pytest.raises(TypeError, match="not dict"):
        restore(checkpoint([1, 2]), dict)


def test_unknown_model_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        make_model("oracle")


def test_rolling_quality_metrics_measure_recent_predictions() -> None:
    auc, logloss = make_model("auc"), make_model("logloss")
    for i in range(50):
        y = i % 2 == 0
        auc.update(y, 0.9 if y else 0.1)
        logloss.update(y, 0.9 if y else 0.1)
    assert auc.get() == pytest.approx(1.0)
    assert logloss.get() == pytest.approx(0.10536, abs=1e-4)

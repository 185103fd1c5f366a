"""What differs by the kind of model (modelguard.task_kinds): metrics against scikit-learn, the stored
layout of multiclass scores, and the paired comparison of regression and multiclass models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from modelguard.compare import _resample_counts, _resampled_metric, paired_bootstrap
from modelguard.task_kinds import BinaryClassification, MulticlassClassification, Regression, shortfall

RNG = np.random.default_rng(11)
MULTI = MulticlassClassification(classes=(0, 1, 2))


def _multiclass_rows(n: int = 600, signal: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    y = RNG.integers(0, 3, n)
    logits = RNG.normal(size=(n, 3)) + signal * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p


def test_regression_metrics_are_scikit_learns() -> None:
    y = RNG.normal(10, 3, 500)
    predicted = y + RNG.normal(0, 1, 500)
    got = Regression().evaluate(y, predicted)
    assert got["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, predicted)))
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(y, predicted))
    assert got["r2"] == pytest.approx(sk.r2_score(y, predicted))


def test_multiclass_metrics_are_scikit_learns() -> None:
    y, p = _multiclass_rows()
    got = MULTI.evaluate(y, p)
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, p, labels=[0, 1, 2]), rel=1e-4)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, p.argmax(axis=1)))
    recalls = sk.recall_score(y, p.argmax(axis=1), average=None, labels=[0, 1, 2])
    assert [got[f"recall_{c}"] for c in (0, 1, 2)] == pytest.approx(list(recalls))


def test_multiclass_scores_follow_the_configured_classes_whatever_the_model_saw() -> None:
    class TwoClassModel:  # trained on a window that held no class 1
        classes_ = np.array([2, 0])

        def predict_proba(self, frame):
            return np.tile([0.7, 0.3], (len(frame), 1))

    scores = MULTI.predict(TwoClassModel(), pd.DataFrame({"x": [1.0, 2.0]}))
    assert scores.tolist() == [[0.3, 0.0, 0.7]] * 2
    stored = pd.DataFrame(MULTI.columns("champion", scores))
    assert list(stored.columns) == ["score_champion", "score_champion__0", "score_champion__1", "score_champion__2"]
    assert stored["score_champion"].tolist() == [0.7, 0.7]  # the confidence: what drift compares
    assert MULTI.stored(stored, "champion").tolist() == scores.tolist()
    assert MULTI.decision(scores).tolist() == [2, 2]


def test_a_binary_model_that_returns_labels_is_refused_with_a_sentence() -> None:
    class LabelModel:
        def predict(self, frame):
            return np.full(len(frame), 3.0)

    with pytest.raises(ValueError, match="not probabilities"):
        BinaryClassification().predict(LabelModel(), pd.DataFrame({"x": [1.0]}))


@pytest.mark.parametrize(("kind", "metric"), [(Regression(), "rmse"), (Regression(), "mae"), (Regression(), "r2"),
                                              (MULTI, "roc_auc"), (MULTI, "log_loss")])
def test_each_resample_scores_what_the_metric_gives_on_the_rows_it_drew(kind, metric: str) -> None:
    if isinstance(kind, Regression):
        y = RNG.normal(10, 3, 300)
        scores = y + RNG.normal(0, 1, 300)
    else:
        y, scores = _multiclass_rows(300)
    counts = _resample_counts(np.random.default_rng(3), len(y), 5)
    fast = _resampled_metric(kind, metric, y, scores, counts)
    for column, value in zip(counts.T, fast, strict=True):
        rows = np.repeat(np.arange(len(y)), column)
        assert value == pytest.approx(kind.evaluate(y[rows], scores[rows])[metric])


def test_a_lower_error_wins_and_a_tie_does_not() -> None:
    y = RNG.normal(10, 3, 2000)
    good, bad = y + RNG.normal(0, 0.5, 2000), y + RNG.normal(0, 2.0, 2000)
    won = paired_bootstrap(y, bad, good, metric="rmse", kind=Regression())
    assert won.difference < 0 and won.improvement > 1 and not won.higher_is_better
    assert won.high < 0 and won.wins_by(0.1)
    tie = paired_bootstrap(y, good, good + RNG.normal(0, 1e-3, 2000), metric="rmse", kind=Regression())
    assert not tie.wins_by(0.1)
    # the same rows judged the other way round: the worse candidate never wins
    assert not paired_bootstrap(y, good, bad, metric="rmse", kind=Regression()).wins_by(0.0)


def test_a_better_multiclass_model_wins_on_macro_auc() -> None:
    y, weak = _multiclass_rows(1500, signal=0.3)
    strong = 0.3 * weak + 0.7 * np.eye(3)[y]
    won = paired_bootstrap(y, weak, strong, metric="roc_auc", kind=MULTI)
    assert won.improvement > 0.1 and won.wins_by(0.01) and won.e_value >= 20
    assert not paired_bootstrap(y, strong, weak, metric="log_loss", kind=MULTI).wins_by(0.0)


@pytest.mark.parametrize(("value", "bar", "metric", "worse_by"), [(0.80, 0.86, "roc_auc", 0.06), (0.90, 0.86, "roc_auc", -0.04),
                                                                  (1.4, 1.0, "rmse", 0.4), (0.8, 1.0, "rmse", -0.2),
                                                                  (0.5, 0.7, "r2", 0.2), (0.9, 0.7, "log_loss", 0.2)])
def test_shortfall_knows_each_metrics_direction(value: float, bar: float, metric: str, worse_by: float) -> None:
    assert shortfall(value, bar, metric) == pytest.approx(worse_by)


def test_a_class_is_the_same_class_whether_its_label_is_int_float_or_text() -> None:
    y_int, p = _multiclass_rows(300)
    assert MULTI.evaluate(y_int.astype(float), p) == MULTI.evaluate(y_int, p)
    assert MULTI.evaluate(y_int.astype(str), p) == MULTI.evaluate(y_int, p)

    class FloatLabelModel:  # trained on a label column that turned float
        classes_ = np.array([0.0, 1.0, 2.0])

        def predict_proba(self, frame):
            return np.tile([0.2, 0.5, 0.3], (len(frame), 1))

    assert MULTI.predict(FloatLabelModel(), pd.DataFrame({"x": [1.0]})).tolist() == [[0.2, 0.5, 0.3]]
    assert MULTI.output(pd.Series([1.0, 1.0, 2.0, 0.0])) == {"predicted_share_0": 0.25, "predicted_share_1": 0.5,
                                                             "predicted_share_2": 0.25}


def test_a_binary_classifier_is_read_at_its_positive_class_column() -> None:
    class TrueFirst:
        classes_ = np.array([True, False])

        def predict_proba(self, frame):
            return np.tile([0.9, 0.1], (len(frame), 1))

    class Named:
        classes_ = np.array(["fraud", "legit"])

        def predict_proba(self, frame):
            return np.tile([0.9, 0.1], (len(frame), 1))

    assert BinaryClassification().predict(TrueFirst(), pd.DataFrame({"x": [1.0]})).tolist() == [0.9]
    with pytest.raises(ValueError, match="positive class is 1"):
        BinaryClassification().predict(Named(), pd.DataFrame({"x": [1.0]}))


@pytest.mark.parametrize("kind", [BinaryClassification(), Regression(), MULTI])
def test_a_model_that_returns_no_score_for_some_rows_fails_loudly(kind) -> None:
    class Holes:
        classes_ = np.array([0, 1, 2]) if isinstance(kind, MulticlassClassification) else np.array([0, 1])

        def predict_proba(self, frame):
            out = np.full((len(frame), len(self.classes_)), 1 / len(self.classes_))
            out[0] = np.nan
            return out

        def predict(self, frame):
            return np.r_[np.nan, np.ones(len(frame) - 1)]

    with pytest.raises(ValueError, match="no score"):
        kind.predict(Holes(), pd.DataFrame({"x": [1.0, 2.0, 3.0]}))


def test_the_evidence_weighs_a_large_repair_more_than_small_slips() -> None:
    from modelguard.compare import relative_loss_differences

    champion = np.r_[np.full(10, 100.0), np.full(90, 1.0)]  # one segment badly wrong
    candidate = np.r_[np.full(10, 1.0), np.full(90, 1.1)]  # repaired, a little noisier elsewhere
    evidence = relative_loss_differences(champion, candidate)
    assert evidence.min() >= -1 and evidence.max() <= 1 and evidence.mean() > 0
    assert np.sign(champion - candidate).mean() < 0  # a sign test would have called the candidate worse
    assert relative_loss_differences([0.0], [0.0]).tolist() == [0.0]


def test_init_refuses_a_reference_target_outside_the_classes(tmp_path) -> None:
    from modelguard.bootstrap import initialise
    from modelguard.config import parse_config
    from modelguard.storage import Lake

    config = parse_config({"model": {"name": "m", "task": "multiclass_classification", "target": "grade",
                                     "id_column": "i", "classes": ["1", "2", "3"], "features": {"numeric": ["a"]}},
                           "storage": {"root": "lake"}, "mlflow": {"tracking_uri": "sqlite:///mlflow.db"}}, tmp_path)
    Lake(config.storage_root).write_parquet(pd.DataFrame({"i": range(6), "a": 1.0, "grade": [1, 2, 3] * 2}),
                                            Lake(config.storage_root).reference_train)
    with pytest.raises(ValueError, match=r"grade holds \['1', '2', '3'\], not among the classes"):
        initialise(config)  # integers where the config lists text: every label file would be quarantined
    assert not (tmp_path / "mlflow.db").exists()


def test_the_service_baseline_comes_from_the_latest_first_champion() -> None:
    from modelguard.registry import Version, initial_champion

    versions = [Version("1", {"trigger": "init"}, (), None, 0), Version("2", {"trigger": "performance"}, (), None, 0),
                Version("5", {"trigger": "init", "adopted_from": "models:/team/3"}, (), None, 0)]
    assert initial_champion(versions).version == "5" and initial_champion(versions[1:2]) is None


def test_a_multiclass_models_classes_default_to_the_reference_datas(tmp_path) -> None:
    from modelguard.bootstrap import reference_classes
    from modelguard.config import load_config
    from modelguard.storage import Lake

    assert reference_classes(pd.Series([10.0, 2.0, 2.0, -1.0, None], name="grade")) == [-1, 2, 10]
    assert reference_classes(pd.Series(["b", "a", "c", "a"], name="grade")) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="needs at least 3"):
        reference_classes(pd.Series([0, 1, 1], name="grade"))
    with pytest.raises(ValueError, match="cannot name a column"):
        reference_classes(pd.Series(["<=50K", "a", "b"], name="grade"))

    (tmp_path / "pipeline.yaml").write_text(
        "model: {name: m, task: multiclass_classification, target: grade, id_column: i, features: {numeric: [a]}}\n"
        "storage: {root: lake}\n")
    assert load_config(tmp_path / "pipeline.yaml").model.classes is None  # init has not run
    lake = Lake(tmp_path / "lake")
    lake.write_json({"classes": [0, 1, 2]}, lake.reference_profile)  # what init records
    assert load_config(tmp_path / "pipeline.yaml").model.classes == [0, 1, 2]

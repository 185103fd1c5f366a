"""What differs by the kind of model: one object per task kind (binary, multiclass, regression).

Each knows how its model's output is read, stored and served, its metrics and their direction, the
per-row loss its paired comparison counts, its output-anomaly check and its label-free estimate. The
policy, the comparison, the monitor and the page ask this object (`task_kind(config.model)`); they do
not branch on `config.model.task`.

Scores are a 1-D array per row (binary: the positive class's probability; regression: the prediction)
or, for multiclass, a rows x classes array of probabilities in the order of `model.classes`. Stored
in `predictions/<batch_id>.parquet` as `score_<alias>` (multiclass: the predicted class's probability,
the model's confidence) plus, for multiclass, one `score_<alias>__<class>` per class.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from modelguard.config import TASK_METRICS, DriftConfig, ModelConfig

# Metrics where a lower value is the better model; every other metric is better higher.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def shortfall(value: float, bar: float, metric: str) -> float:
    """How far `value` is worse than `bar` on `metric` (positive: worse), whatever the metric's direction."""
    return bar - value if higher_is_better(metric) else value - bar


def class_key(value: Any) -> str:
    """One spelling of a class label wherever it comes from (config, labels, a model's `classes_`, a pyfunc's
    columns): 1, 1.0, np.int64(1) and "1" are the same class. A label column turns float as soon as one
    day's file is, and a model trained on it then names its classes 0.0, 1.0, 2.0."""
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _no_missing_scores(scores: np.ndarray) -> np.ndarray:
    # a NaN score would make every metric NaN, and a NaN metric is never "worse than the bar": a silent day
    missing = int(np.isnan(scores).any(axis=-1).sum()) if scores.size else 0
    if missing:
        raise ValueError(f"the model returned no score (NaN) for {missing} of {len(scores)} rows")
    return scores


def prediction_scores(output, task: str) -> np.ndarray:
    """What a model's `predict` returned (a pyfunc's: DataFrame, Series, list, 1-D or 2-D array) as scores.

    Binary classification: of two columns the second is the positive class's probability, one column is that
    probability; either must lie in [0, 1], else the model returns labels or values and is refused. Regression:
    one column, the prediction.
    """
    values = np.asarray(output.to_numpy() if hasattr(output, "to_numpy") else output)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if task == "binary_classification" and values.ndim == 2 and values.shape[1] == 2:
        values = values[:, 1]
    if values.ndim != 1:
        raise ValueError(f"the model's predict returned an array of shape {values.shape}; expected one score per "
                         "row" + (" or two class probabilities" if task == "binary_classification" else ""))
    if task != "binary_classification":
        return values.astype(float)
    refused = ("the model returns labels or values, not probabilities ({}); a classifier must be logged so that "
               "its pyfunc returns probabilities, e.g. mlflow.sklearn.log_model(..., pyfunc_predict_fn="
               '"predict_proba")')
    if values.dtype.kind in "biu":  # 0/1 or True/False: labels, even if they lie in [0, 1]
        raise ValueError(refused.format(f"{values.dtype} values"))
    try:
        scores = values.astype(float)
    except (TypeError, ValueError):
        raise ValueError(refused.format(f"e.g. {values[0]!r}")) from None
    if len(scores) and (np.nanmin(scores) < 0 or np.nanmax(scores) > 1):
        raise ValueError(refused.format(f"values from {np.nanmin(scores):.4g} to {np.nanmax(scores):.4g}"))
    return scores


def _clipped(p: np.ndarray) -> np.ndarray:
    return np.clip(p, 1e-6, 1 - 1e-6)


def _positive_column(estimator) -> int:
    """Which of a scikit-learn classifier's probability columns is the positive class (1 / True)."""
    classes = [class_key(c) for c in getattr(estimator, "classes_", [0, 1])]
    if "1" not in classes:
        raise ValueError(f"the classifier's classes are {classes}: a binary target must be 0/1 (or False/True), "
                         "and the positive class is 1")
    return classes.index("1")


class _OneScorePerRow:
    """Scores stored as one column per model: `score_<alias>` (a probability, or a prediction)."""

    def columns(self, alias: str, scores: np.ndarray) -> dict[str, np.ndarray]:
        return {f"score_{alias}": scores}

    def predict_nothing(self) -> np.ndarray:
        return np.zeros(0)

    def score_columns(self, alias: str) -> list[str]:
        """The stored columns `stored` reads: what to read from a predictions file, and no more."""
        return [f"score_{alias}"]

    def stored(self, frame: pd.DataFrame, alias: str) -> np.ndarray:
        return frame[self.score_columns(alias)[0]].to_numpy(dtype=float)

    def summary(self, scores: np.ndarray) -> np.ndarray:
        return scores


@dataclass(frozen=True)
class BinaryClassification(_OneScorePerRow):
    threshold: float = 0.5
    name: str = "binary_classification"
    metrics: tuple[str, ...] = TASK_METRICS["binary_classification"]
    has_estimate: bool = True
    label_values: tuple | None = (0, 1)  # what the label suite accepts as a target

    def predict(self, estimator, features: pd.DataFrame) -> np.ndarray:
        # a scikit-learn classifier answers predict_proba; any other model (an MLflow pyfunc) its predict
        if hasattr(estimator, "predict_proba"):
            return _no_missing_scores(np.asarray(estimator.predict_proba(features), dtype=float)[:, _positive_column(
                estimator)])
        return _no_missing_scores(prediction_scores(estimator.predict(features), self.name))

    def decision(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores) >= self.threshold).astype("int64")

    def evaluate(self, y_true, scores) -> dict[str, float]:
        from modelguard.model import classification_metrics

        return classification_metrics(y_true, scores, self.threshold)

    def row_losses(self, y_true, scores) -> np.ndarray:
        p = _clipped(np.asarray(scores, dtype=float))
        return -np.where(np.asarray(y_true).astype(int) == 1, np.log(p), np.log1p(-p))

    def label_problem(self, train_y: pd.Series, holdout_y: pd.Series, min_per_class: int) -> str | None:
        positives = int(train_y.sum())
        if min(positives, len(train_y) - positives) < min_per_class or holdout_y.empty \
                or not 0 < holdout_y.sum() < len(holdout_y):
            return "too few examples of a class in the window or the holdout"
        return None

    def output(self, decisions: pd.Series) -> dict[str, float]:
        return {"predicted_positive_rate": float(decisions.mean())} if len(decisions) else {}

    def output_anomaly(self, today: dict | None, reference: dict | None, drift: DriftConfig) -> str | None:
        rate, ref = (today or {}).get("predicted_positive_rate"), (reference or {}).get("predicted_positive_rate")
        if rate is None or not ref:
            return None
        factor = drift.positive_rate_factor
        if rate > ref * factor or rate < ref / factor:
            return f"predicted positive rate {rate:.2%} against {ref:.2%} in reference"
        return None

    def describe_output(self, today: dict | None, reference: dict | None) -> str:
        rate, ref = (today or {}).get("predicted_positive_rate"), (reference or {}).get("predicted_positive_rate")
        if rate is None or ref is None:
            return "no predictions today"
        return f"predicted positive rate {rate:.2%} vs {ref:.2%} in reference"

    def estimate(self, scores: np.ndarray) -> dict[str, float] | None:
        from modelguard.estimate import estimate

        return estimate(scores, self.threshold)


@dataclass(frozen=True)
class Regression(_OneScorePerRow):
    name: str = "regression"
    metrics: tuple[str, ...] = TASK_METRICS["regression"]
    has_estimate: bool = False  # no label-free estimate: the page says so
    label_values: tuple | None = None  # any number

    def predict(self, estimator, features: pd.DataFrame) -> np.ndarray:
        return _no_missing_scores(prediction_scores(estimator.predict(features), self.name))

    def decision(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores, dtype=float)

    def evaluate(self, y_true, scores) -> dict[str, float]:
        y = np.asarray(y_true, dtype=float)
        errors = np.asarray(scores, dtype=float) - y
        spread = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
        return {
            "rmse": float(np.sqrt(np.mean(errors**2))) if len(y) else float("nan"),
            "mae": float(np.mean(np.abs(errors))) if len(y) else float("nan"),
            "r2": 1 - float(np.sum(errors**2)) / spread if spread > 0 else float("nan"),
            "mean_prediction": float(np.mean(scores)) if len(y) else float("nan"),
            "rows": float(len(y)),
        }

    def row_losses(self, y_true, scores) -> np.ndarray:
        return (np.asarray(scores, dtype=float) - np.asarray(y_true, dtype=float)) ** 2

    def label_problem(self, train_y: pd.Series, holdout_y: pd.Series, min_per_class: int) -> str | None:
        if holdout_y.empty or holdout_y.nunique() < 2:
            return "the holdout has no spread of the target to compare on"
        return None

    def output(self, decisions: pd.Series) -> dict[str, float]:
        values = decisions.astype(float)
        return {"mean_prediction": float(values.mean()), "prediction_std": float(values.std(ddof=0))} \
            if len(values) else {}

    def output_anomaly(self, today: dict | None, reference: dict | None, drift: DriftConfig) -> str | None:
        mean, ref = (today or {}).get("mean_prediction"), (reference or {}).get("mean_prediction")
        spread = (reference or {}).get("prediction_std")
        if mean is None or ref is None or not spread:
            return None
        shift = abs(mean - ref) / spread
        if shift > drift.prediction_shift_std:
            return (f"mean prediction {mean:.4g} against {ref:.4g} in reference ({shift:.1f} reference standard "
                    f"deviations, more than {drift.prediction_shift_std})")
        return None

    def describe_output(self, today: dict | None, reference: dict | None) -> str:
        mean, ref = (today or {}).get("mean_prediction"), (reference or {}).get("mean_prediction")
        if mean is None or ref is None:
            return "no predictions today"
        return f"mean prediction {mean:.4g} vs {ref:.4g} in reference"

    def estimate(self, scores: np.ndarray) -> dict[str, float] | None:
        return None


@dataclass(frozen=True)
class MulticlassClassification:
    classes: tuple[Any, ...]
    name: str = "multiclass_classification"
    metrics: tuple[str, ...] = TASK_METRICS["multiclass_classification"]  # roc_auc: macro one-vs-rest
    has_estimate: bool = True

    @property
    def label_values(self) -> tuple:
        return self.classes

    def predict(self, estimator, features: pd.DataFrame) -> np.ndarray:
        if hasattr(estimator, "predict_proba"):
            out = np.asarray(estimator.predict_proba(features), dtype=float)
            known = [class_key(c) for c in getattr(estimator, "classes_", self.classes)]
        else:
            raw = estimator.predict(features)
            out = np.asarray(raw.to_numpy() if hasattr(raw, "to_numpy") else raw, dtype=float)
            # a pyfunc names its columns by class (a DataFrame), else gives them in the order of model.classes
            known = [class_key(c) for c in (raw.columns if isinstance(raw, pd.DataFrame) else self.classes)]
        if out.ndim != 2 or out.shape[1] != len(known):
            raise ValueError(f"the model returns {out.shape} values, not one probability per class "
                             f"({len(self.classes)} classes: {list(self.classes)})")
        # in the order of model.classes; a class the model never saw gets probability 0
        position = {c: i for i, c in enumerate(known)}
        columns = [out[:, position[class_key(c)]] if class_key(c) in position else np.zeros(len(out))
                   for c in self.classes]
        return _no_missing_scores(np.column_stack(columns) if columns else out)

    def columns(self, alias: str, scores: np.ndarray) -> dict[str, np.ndarray]:
        return {f"score_{alias}": self.summary(scores),
                **{f"score_{alias}__{c}": scores[:, i] for i, c in enumerate(self.classes)}}

    def predict_nothing(self) -> np.ndarray:
        return np.zeros((0, len(self.classes)))

    def score_columns(self, alias: str) -> list[str]:
        return [f"score_{alias}__{c}" for c in self.classes]

    def stored(self, frame: pd.DataFrame, alias: str) -> np.ndarray:
        return np.column_stack([frame[column].to_numpy(dtype=float) for column in self.score_columns(alias)])

    def summary(self, scores: np.ndarray) -> np.ndarray:
        return scores.max(axis=1) if len(scores) else np.zeros(0)

    def decision(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes)[scores.argmax(axis=1)] if len(scores) else np.asarray([], dtype=object)

    def onehot(self, y_true) -> np.ndarray:
        labels = np.asarray([class_key(v) for v in np.asarray(y_true)])
        return np.column_stack([labels == class_key(c) for c in self.classes])

    def evaluate(self, y_true, scores) -> dict[str, float]:
        from modelguard.model import fast_auc

        truth = self.onehot(y_true)
        scores = np.asarray(scores, dtype=float).reshape(len(truth), len(self.classes))
        predicted = scores.argmax(axis=1) if len(truth) else np.zeros(0, dtype=int)
        aucs = [fast_auc(truth[:, i], scores[:, i]) for i in range(len(self.classes))]
        aucs = [a for a in aucs if a == a]
        metrics = {
            "roc_auc": float(np.mean(aucs)) if aucs else float("nan"),
            "log_loss": float(np.mean(self.row_losses(y_true, scores))) if len(truth) else float("nan"),
            "accuracy": float(np.mean(truth[np.arange(len(truth)), predicted])) if len(truth) else float("nan"),
            "rows": float(len(truth)),
        }
        for i, c in enumerate(self.classes):
            actual = truth[:, i]
            metrics[f"recall_{c}"] = float(np.mean(predicted[actual] == i)) if actual.any() else float("nan")
        return metrics

    def row_losses(self, y_true, scores) -> np.ndarray:
        truth = self.onehot(y_true)
        scores = np.asarray(scores, dtype=float).reshape(len(truth), len(self.classes))
        # a label outside model.classes is refused by the label suite; here it would count as p = 1e-6
        return -np.log(_clipped((scores * truth).sum(axis=1)))

    def label_problem(self, train_y: pd.Series, holdout_y: pd.Series, min_per_class: int) -> str | None:
        counts = train_y.map(class_key).value_counts()
        if (counts >= min_per_class).sum() < 2 or holdout_y.map(class_key).nunique() < 2:
            return "too few examples of a class in the window or the holdout"
        return None

    def output(self, decisions: pd.Series) -> dict[str, float]:
        if not len(decisions):
            return {}
        shares = decisions.map(class_key).value_counts(normalize=True)
        return {f"predicted_share_{c}": float(shares.get(class_key(c), 0.0)) for c in self.classes}

    def output_anomaly(self, today: dict | None, reference: dict | None, drift: DriftConfig) -> str | None:
        factor, jumps = drift.positive_rate_factor, []
        for c in self.classes:
            share, ref = (today or {}).get(f"predicted_share_{c}"), (reference or {}).get(f"predicted_share_{c}")
            # a class the reference rarely predicts (< 1%) is too noisy to call a jump
            if share is not None and ref and ref >= 0.01 and (share > ref * factor or share < ref / factor):
                jumps.append(f"class {c} predicted for {share:.2%} of rows against {ref:.2%} in reference")
        return "; ".join(jumps) or None

    def describe_output(self, today: dict | None, reference: dict | None) -> str:
        if not today or not reference:
            return "no predictions today"
        return "predicted class shares " + ", ".join(
            f"{c}: {today.get(f'predicted_share_{c}', 0):.1%} (ref {reference.get(f'predicted_share_{c}', 0):.1%})"
            for c in self.classes)

    def estimate(self, scores: np.ndarray) -> dict[str, float] | None:
        """Confidence-based (CBPE): expected accuracy is the mean top probability; expected macro one-vs-rest
        AUC takes each class's probability as that row's chance of being that class."""
        from modelguard.estimate import expected_roc_auc

        if not len(scores):
            return None
        aucs = [expected_roc_auc(scores[:, i]) for i in range(scores.shape[1])]
        aucs = [a for a in aucs if a == a]
        return {"roc_auc": float(np.mean(aucs)) if aucs else float("nan"), "accuracy": float(scores.max(axis=1).mean())}


TaskKind = BinaryClassification | Regression | MulticlassClassification


@cache
def _kind(task: str, threshold: float, classes: tuple) -> TaskKind:
    if task == "regression":
        return Regression()
    if task == "multiclass_classification":
        if not classes:
            raise ValueError("the multiclass model's classes are not known yet: run `modelguard init` (it reads them "
                             "from the reference data), or list them as model.classes")
        return MulticlassClassification(classes=classes)
    return BinaryClassification(threshold=threshold)


def task_kind(model: ModelConfig) -> TaskKind:
    """The object that knows this model's kind of output (see the module's docstring)."""
    return _kind(model.task, model.decision_threshold, tuple(model.classes or ()))

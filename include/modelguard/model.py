"""Building, fitting and evaluating the estimator; pure functions of frames, no MLflow here."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from modelguard.config import ModelConfig


def default_estimator(numeric: list[str], categorical: list[str], task: str = "binary_classification"):
    """A scikit-learn pipeline for mixed tabular data: one-hot categoricals, gradient-boosted trees.

    Missing numbers are handled by the trees themselves; missing or unseen categories become
    their own level / all-zero rows instead of errors at serving time.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    categories = make_pipeline(
        FunctionTransformer(as_category_text, feature_names_out="one-to-one"),
        SimpleImputer(strategy="constant", fill_value="__missing__"),
        OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False),
    )
    features = ColumnTransformer(
        [("numeric", "passthrough", numeric), ("categorical", categories, categorical)],
        verbose_feature_names_out=False,
    )
    params = {"max_iter": 150, "learning_rate": 0.08, "max_leaf_nodes": 31, "l2_regularization": 1.0,
              "random_state": 0}
    if task == "regression":
        return Pipeline([("features", features), ("model", HistGradientBoostingRegressor(**params))])
    return Pipeline([("features", features), ("model", HistGradientBoostingClassifier(**params))])


def as_category_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as text, whatever their dtype (text, integer codes, booleans), missing kept missing: one
    encoding for the one-hot step (its string fill value would not mix with numbers)."""
    frame = pd.DataFrame(frame)
    return frame.astype(str).where(frame.notna(), np.nan).astype(object)


def estimator_factory(dotted: str) -> Callable:
    """Resolve `module:function` (or `module.function`) to the estimator factory it names."""
    module_name, sep, attribute = dotted.partition(":")
    if not sep:
        module_name, _, attribute = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"model.estimator: cannot import {dotted!r}: {error}") from None


def fit(model_config: ModelConfig, frame: pd.DataFrame):
    factory = estimator_factory(model_config.estimator)
    estimator = factory(model_config.features.numeric, model_config.features.categorical, model_config.task)
    estimator.fit(frame[model_config.features.all], frame[model_config.target])
    return estimator


# Rows scored at once: the pipeline's one-hot step makes a dense float64 copy of each chunk, so a
# 1M-row batch scored in one call holds ~1 GB more than in 100k-row chunks, for the same scores.
SCORE_CHUNK_ROWS = 100_000


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


def predict_scores(estimator, model_config: ModelConfig, frame: pd.DataFrame) -> np.ndarray:
    """Positive-class probability (classification) or the prediction (regression), in chunks of rows.

    A scikit-learn classifier answers `predict_proba`; any other model (an MLflow pyfunc) its `predict`.
    """
    features = frame[model_config.features.all]

    def score(part: pd.DataFrame) -> np.ndarray:
        if model_config.task == "binary_classification" and hasattr(estimator, "predict_proba"):
            return estimator.predict_proba(part)[:, 1]
        return prediction_scores(estimator.predict(part), model_config.task)

    if len(features) <= SCORE_CHUNK_ROWS:
        return score(features)
    return np.concatenate([score(features.iloc[start:start + SCORE_CHUNK_ROWS])
                           for start in range(0, len(features), SCORE_CHUNK_ROWS)])


def fast_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties averaged); NaN when only one class is present."""
    from scipy.stats import rankdata

    y_true = np.asarray(y_true)
    positives = int(y_true.sum())
    negatives = len(y_true) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[y_true == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Average precision, as scikit-learn's `average_precision_score` computes it (a step at each distinct
    score, ties together); NaN without positives."""
    y = np.asarray(y_true).astype(bool)
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=float), kind="mergesort")
    ordered, hits = np.asarray(scores, dtype=float)[order], y[order]
    last = np.r_[np.flatnonzero(ordered[1:] != ordered[:-1]), len(ordered) - 1]  # last row of each score
    true_positives = np.cumsum(hits)[last]
    precision = true_positives / (last + 1)
    recall = true_positives / positives
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def classification_metrics(y_true, scores, threshold: float = 0.5) -> dict[str, float]:
    """The binary metrics of a day, in numpy: called per model, day and segment, where scikit-learn's
    argument validation cost more than the metrics themselves (the same values; tests compare them)."""
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    predicted = scores >= threshold
    actual = y_true == 1
    both_classes = 0 < y_true.sum() < len(y_true)
    true_positives = int((predicted & actual).sum())
    flagged, positives = int(predicted.sum()), int(actual.sum())
    clipped = np.clip(scores, 1e-6, 1 - 1e-6)
    return {
        "roc_auc": fast_auc(y_true, scores),
        "pr_auc": average_precision(y_true, scores) if both_classes else float("nan"),
        "precision": true_positives / flagged if flagged else 0.0,
        "recall": true_positives / positives if positives else 0.0,
        "f1": 2 * true_positives / (flagged + positives) if flagged + positives else 0.0,
        "log_loss": float(-np.mean(np.where(actual, np.log(clipped), np.log1p(-clipped)))) if len(y_true) else float("nan"),
        "positive_rate": float(predicted.mean()) if len(y_true) else float("nan"),
        "rows": float(len(y_true)),
    }


def regression_metrics(y_true, predictions) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=float)
    errors = np.asarray(predictions, dtype=float) - y_true
    return {"rmse": float(np.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors))), "rows": float(len(y_true))}


def evaluate(model_config: ModelConfig, y_true, scores) -> dict[str, float]:
    if model_config.task == "binary_classification":
        return classification_metrics(y_true, scores, model_config.decision_threshold)
    return regression_metrics(y_true, scores)


def data_hash(frame: pd.DataFrame) -> str:
    """A short content hash of a frame: what a version was trained on, for idempotent registration."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]

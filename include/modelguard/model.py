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
        [("numeric", FunctionTransformer(as_float, feature_names_out="one-to-one"), numeric),
         ("categorical", categories, categorical)],
        verbose_feature_names_out=False,
    )
    params = {"max_iter": 150, "learning_rate": 0.08, "max_leaf_nodes": 31, "l2_regularization": 1.0,
              "random_state": 0}
    if task == "regression":
        return Pipeline([("features", features), ("model", HistGradientBoostingRegressor(**params))])
    return Pipeline([("features", features), ("model", HistGradientBoostingClassifier(**params))])


def as_float(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64, missing as NaN: nullable integers (`Int64` with <NA>) are refused by the trees as-is."""
    return pd.DataFrame(frame).astype("float64")


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


def predict_scores(estimator, model_config: ModelConfig, frame: pd.DataFrame) -> np.ndarray:
    """The model's scores of the rows (see modelguard.task_kinds: a probability, a prediction, or one
    probability per class), in chunks of rows."""
    from modelguard.task_kinds import task_kind

    kind = task_kind(model_config)
    features = frame[model_config.features.all]
    if len(features) <= SCORE_CHUNK_ROWS:
        return kind.predict(estimator, features)
    return np.concatenate([kind.predict(estimator, features.iloc[start:start + SCORE_CHUNK_ROWS])
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


def evaluate(model_config: ModelConfig, y_true, scores) -> dict[str, float]:
    from modelguard.task_kinds import task_kind

    return task_kind(model_config).evaluate(y_true, scores)


def data_hash(frame: pd.DataFrame) -> str:
    """A short content hash of a frame: what a version was trained on, for idempotent registration."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]

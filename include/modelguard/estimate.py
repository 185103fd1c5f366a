"""Label-free performance estimate (confidence-based, as NannyML's CBPE): from the champion's
calibrated probabilities alone, the expected ROC AUC and precision/recall on a batch whose labels
have not arrived yet.

It assumes the probabilities stay calibrated, i.e. no concept drift: it tracks the effect of
covariate shift on performance, and a gap between the estimate and the realized value once labels
arrive is itself a sign of concept drift.
"""

from __future__ import annotations

import numpy as np


def expected_roc_auc(probabilities: np.ndarray) -> float:
    """E[AUC] if each row were positive with its own probability: weighted pairs ranked correctly.

    Sorting once gives, for every row, the expected number of negatives scored below it; ties
    count half. O(n log n).
    """
    p = np.asarray(probabilities, dtype=float)
    if len(p) < 2:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    p_sorted = p[order]
    negatives = 1 - p_sorted
    # negatives strictly below each distinct score, plus half of the tied ones
    unique, start = np.unique(p_sorted, return_index=True)
    cum_neg = np.concatenate([[0.0], np.cumsum(negatives)])
    end = np.append(start[1:], len(p_sorted))
    below = cum_neg[start]
    tied = cum_neg[end] - cum_neg[start]
    group = np.repeat(np.arange(len(unique)), end - start)
    # a row does not pair with itself: remove its own negative mass from the tie term
    correct = (p_sorted * (below[group] + 0.5 * (tied[group] - negatives))).sum()
    pairs = p_sorted.sum() * negatives.sum() - (p_sorted * negatives).sum()
    return float(correct / pairs) if pairs > 0 else float("nan")


def expected_classification(probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    """Expected precision, recall and positive rate at the decision threshold."""
    p = np.asarray(probabilities, dtype=float)
    flagged = p >= threshold
    true_positives = p[flagged].sum()
    positives = p.sum()
    return {
        "precision": float(true_positives / flagged.sum()) if flagged.any() else float("nan"),
        "recall": float(true_positives / positives) if positives > 0 else float("nan"),
        "positive_rate": float(flagged.mean()) if len(p) else float("nan"),
        "expected_target_rate": float(p.mean()) if len(p) else float("nan"),
    }


def estimate(probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    return {"roc_auc": expected_roc_auc(probabilities), **expected_classification(probabilities, threshold)}

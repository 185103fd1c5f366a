"""Paired comparison of two models scored on the same labelled rows (pure numpy)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from modelguard.model import fast_auc


def _metric(name: str):
    if name == "roc_auc":
        return fast_auc
    if name == "pr_auc":
        from sklearn.metrics import average_precision_score

        return lambda y, s: float(average_precision_score(y, s)) if 0 < y.sum() < len(y) else float("nan")
    raise ValueError(f"unknown comparison metric {name!r}")


@dataclass(frozen=True)
class Comparison:
    metric: str
    baseline: float  # metric of the model we have (champion)
    candidate: float  # metric of the model we might switch to
    difference: float  # candidate - baseline
    low: float  # confidence interval of the difference
    high: float
    rows: int
    positives: int

    def wins_by(self, margin: float) -> bool:
        """The candidate is better by at least `margin` and the whole interval is above zero."""
        return self.difference >= margin and self.low > 0

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def paired_bootstrap(y_true, baseline_scores, candidate_scores, *, metric: str = "roc_auc", rounds: int = 300,
                     confidence: float = 0.95, seed: int = 0) -> Comparison:
    """Bootstrap the metric difference, resampling rows once for both models (a paired test)."""
    y = np.asarray(y_true).astype(int)
    a = np.asarray(baseline_scores, dtype=float)
    b = np.asarray(candidate_scores, dtype=float)
    score = _metric(metric)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(rounds):
        idx = rng.integers(0, len(y), len(y))
        diff = score(y[idx], b[idx]) - score(y[idx], a[idx])
        if diff == diff:
            diffs.append(diff)
    alpha = (1 - confidence) / 2
    low, high = (np.quantile(diffs, [alpha, 1 - alpha]) if diffs else (float("nan"), float("nan")))
    base, cand = score(y, a), score(y, b)
    return Comparison(metric=metric, baseline=float(base), candidate=float(cand), difference=float(cand - base),
                      low=float(low), high=float(high), rows=int(len(y)), positives=int(y.sum()))

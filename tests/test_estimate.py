"""The label-free estimate agrees with realized performance when probabilities are calibrated."""

from __future__ import annotations

import numpy as np
import pytest

from modelguard.estimate import estimate, expected_roc_auc
from modelguard.model import classification_metrics, fast_auc


@pytest.mark.parametrize("strength", [0.5, 1.5, 3.0])
def test_expected_auc_matches_realized_auc_on_calibrated_scores(strength: float) -> None:
    rng = np.random.default_rng(int(strength * 10))
    signal = rng.normal(size=20_000)
    probability = 1 / (1 + np.exp(-(strength * signal - 4)))
    realized = [fast_auc((rng.random(len(probability)) < probability).astype(int), probability) for _ in range(10)]
    # tolerance: three standard errors of the realized AUC over the 10 draws, at least 0.01
    assert abs(expected_roc_auc(probability) - np.mean(realized)) < max(0.01, 3 * np.std(realized))


def test_expected_precision_and_recall_track_realized_ones() -> None:
    rng = np.random.default_rng(3)
    probability = 1 / (1 + np.exp(-(2 * rng.normal(size=50_000) - 4)))
    labels = (rng.random(len(probability)) < probability).astype(int)
    estimated, realized = estimate(probability, 0.1), classification_metrics(labels, probability, 0.1)
    assert abs(estimated["precision"] - realized["precision"]) < 0.02
    assert abs(estimated["recall"] - realized["recall"]) < 0.02


def test_uninformative_scores_estimate_chance() -> None:
    assert expected_roc_auc(np.full(100, 0.3)) == pytest.approx(0.5)

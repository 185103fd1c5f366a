from __future__ import annotations

import numpy as np

from modelguard.compare import paired_bootstrap
from modelguard.model import fast_auc


def _labelled(n: int, seed: int):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * signal - 4)))).astype(int)
    return rng, signal, y


def test_fast_auc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng, signal, y = _labelled(3000, 1)
    scores = signal + rng.normal(size=3000)
    assert abs(fast_auc(y, scores) - roc_auc_score(y, scores)) < 1e-12


def test_two_equally_good_models_do_not_pass() -> None:
    passed = 0
    for seed in range(10):
        rng, signal, y = _labelled(4000, seed)
        a = signal + rng.normal(scale=1.0, size=len(y))
        b = signal + rng.normal(scale=1.0, size=len(y))
        passed += paired_bootstrap(y, a, b, rounds=200, seed=seed).wins_by(0.01)
    assert passed == 0


def test_a_real_gain_passes() -> None:
    rng, signal, y = _labelled(4000, 3)
    weak = signal + rng.normal(scale=2.0, size=len(y))
    strong = signal + rng.normal(scale=0.5, size=len(y))
    comparison = paired_bootstrap(y, weak, strong, rounds=200)
    assert comparison.difference > 0.05
    assert comparison.wins_by(0.01)
    assert not paired_bootstrap(y, strong, weak, rounds=200).wins_by(0.01)

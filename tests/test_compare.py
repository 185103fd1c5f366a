from __future__ import annotations

import numpy as np

from modelguard.compare import _resample_counts, e_process, paired_bootstrap, rank_differences, resampled_auc
from modelguard.model import fast_auc


def _labelled(n: int, seed: int):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * signal - 4)))).astype(int)
    return rng, signal, y


def _probability(log_odds: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-log_odds))


def test_fast_auc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng, signal, y = _labelled(3000, 1)
    scores = signal + rng.normal(size=3000)
    assert abs(fast_auc(y, scores) - roc_auc_score(y, scores)) < 1e-12


def test_classification_metrics_match_sklearn() -> None:
    """The numpy metrics give scikit-learn's values, on tied scores, tiny days and one-class days too."""
    from sklearn.metrics import average_precision_score, f1_score, log_loss, precision_score, recall_score

    from modelguard.model import classification_metrics

    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(2, 300))
        y = (rng.random(n) < rng.uniform(0, 0.5)).astype(int)
        scores = np.round(rng.random(n), int(rng.integers(1, 4)))
        ours, predicted = classification_metrics(y, scores), (scores >= 0.5).astype(int)
        expected = {"precision": precision_score(y, predicted, zero_division=0),
                    "recall": recall_score(y, predicted, zero_division=0),
                    "f1": f1_score(y, predicted, zero_division=0),
                    "log_loss": log_loss(y, np.clip(scores, 1e-6, 1 - 1e-6), labels=[0, 1])}
        if 0 < y.sum() < n:
            expected["pr_auc"] = average_precision_score(y, scores)
        else:
            assert np.isnan(ours["pr_auc"])
        for name, value in expected.items():
            assert abs(ours[name] - value) < 1e-12, (name, ours[name], value)


def test_resampled_auc_is_the_auc_of_the_rows_drawn() -> None:
    """One sort for all resamples gives what fast_auc gives on each resample's rows, ties and all."""
    rng, signal, y = _labelled(400, 2)
    for scores in (signal + rng.normal(size=400), np.round(signal, 1)):  # continuous, and many ties
        counts = _resample_counts(np.random.default_rng(0), len(y), 25)
        expected = [fast_auc(y[np.repeat(np.arange(len(y)), drawn)], scores[np.repeat(np.arange(len(y)), drawn)])
                    for drawn in counts.T]
        np.testing.assert_allclose(resampled_auc(y, scores, counts), expected, rtol=0, atol=1e-12)
    one_class = np.zeros((len(y), 1), dtype=int)
    one_class[np.flatnonzero(y == 0)[:5], 0] = 2
    assert np.isnan(resampled_auc(y, signal, one_class)[0])


def test_two_equally_good_models_do_not_pass() -> None:
    passed = 0
    for seed in range(10):
        rng, signal, y = _labelled(4000, seed)
        a = _probability(2 * signal - 4 + rng.normal(scale=1.0, size=len(y)))
        b = _probability(2 * signal - 4 + rng.normal(scale=1.0, size=len(y)))
        passed += paired_bootstrap(y, a, b, rounds=200, seed=seed).wins_by(0.01)
    assert passed == 0


def test_a_real_gain_passes() -> None:
    rng, signal, y = _labelled(4000, 3)
    weak = _probability(2 * signal - 4 + rng.normal(scale=2.0, size=len(y)))
    strong = _probability(2 * signal - 4 + rng.normal(scale=0.5, size=len(y)))
    comparison = paired_bootstrap(y, weak, strong, rounds=200)
    assert comparison.difference > 0.05
    assert comparison.e_value >= 1 / comparison.alpha
    assert comparison.wins_by(0.01)
    assert not paired_bootstrap(y, strong, weak, rounds=200).wins_by(0.01)


def _looks(seed: int, noise_a: float, noise_b: float, days: int, rows: int, alpha: float) -> int | None:
    """Day on which a challenger (b) is first declared the winner over the champion (a), looking once a
    day at all rows labelled so far; None if never."""
    rng, signal, y = _labelled(days * rows, seed)
    a = _probability(2 * signal - 4 + rng.normal(scale=noise_a, size=len(y)))
    b = _probability(2 * signal - 4 + rng.normal(scale=noise_b, size=len(y)))
    for day in range(1, days + 1):
        seen = slice(0, day * rows)
        if paired_bootstrap(y[seen], a[seen], b[seen], rounds=50, seed=seed, alpha=alpha).wins_by(0.0):
            return day
    return None


def test_repeated_daily_looks_keep_the_false_promotion_rate() -> None:
    """No effect (two equally good models), 200 sequences of 20 daily looks each: the share ever declared
    a winner stays at or below the configured level. The bootstrap interval alone, looked at daily, does not."""
    alpha, sequences, days, rows = 0.05, 200, 20, 500
    promoted = 0
    for seed in range(sequences):
        rng, signal, y = _labelled(days * rows, 1000 + seed)
        a = _probability(2 * signal - 4 + rng.normal(size=len(y)))
        b = _probability(2 * signal - 4 + rng.normal(size=len(y)))
        running = e_process(rank_differences(y, a, b))
        promoted += bool((running[rows - 1::rows] >= 1 / alpha).any()) or bool(running.max() >= 1 / alpha)
    assert promoted / sequences <= alpha, f"{promoted} of {sequences} ties promoted"


def test_a_clear_winner_is_found_within_days_under_daily_looks() -> None:
    found = [_looks(seed, noise_a=2.0, noise_b=0.3, days=10, rows=1000, alpha=0.05) for seed in range(5)]
    assert all(day is not None and day <= 3 for day in found), found


def test_rank_differences_average_to_the_auc_difference() -> None:
    rng, signal, y = _labelled(20_000, 5)
    a = signal + rng.normal(scale=2.0, size=len(y))
    b = signal + rng.normal(scale=0.5, size=len(y))
    units = rank_differences(y, a, b)
    assert len(units) <= y.sum() and np.all(np.abs(units) <= 1)
    assert abs(units.mean() - (fast_auc(y, b) - fast_auc(y, a))) < 0.03
    # one unit per positive with negatives before it: positives, then a negative, then a positive
    assert rank_differences(np.array([1, 0, 1]), np.array([0.9, 0.5, 0.1]), np.array([0.1, 0.5, 0.9])).tolist() == [1.0]


def test_e_process_is_one_at_the_start_and_grows_only_with_evidence() -> None:
    assert e_process(np.array([])).size == 0
    assert np.allclose(e_process(np.zeros(100)), 1.0)
    assert e_process(np.full(50, 0.5))[-1] > e_process(np.full(10, 0.5))[-1] > 1
    assert e_process(np.full(50, -0.5))[-1] < 1

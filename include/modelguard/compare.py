"""Paired comparison of two models scored on the same labelled rows (pure numpy).

Two answers to "is the candidate better?" come from the same rows:
- the metric of each model (ROC AUC, PR AUC; macro one-vs-rest AUC, log loss; R², RMSE, MAE: see
  `modelguard.task_kinds`), with a paired bootstrap interval of the difference: what a person reads;
- an **anytime-valid** e-value: what decides. The evidence comes in time order, one unit per positive
  row: how many of the negatives seen since the previous positive each model ranks below it (the
  difference of the two shares has mean "candidate AUC - baseline AUC", so it tests the metric people
  read, and is far more powerful at a 2% positive rate than per-row losses, which mostly measure
  calibration). Its running value is a nonnegative supermartingale when the candidate is no better, so by
  Ville's inequality the chance that it *ever* reaches 1/alpha is at most alpha. The comparison may
  therefore be looked at every day as labels arrive, and a tie is never declared a win more often than
  `alpha`, however many looks; a fixed-sample bootstrap looked at daily would cross by chance sooner or
  later.
  For regression and multiclass models the evidence is one unit per row instead: how much lower the
  candidate's loss (squared error; log loss) is than the champion's, relative to the two
  (`relative_loss_differences`, in [-1, 1]). The same e-process tests "its mean is <= 0" (the candidate no
  better, row for row, in relative terms); the metric difference must still reach the margin.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np

from modelguard.model import average_precision, fast_auc
from modelguard.task_kinds import BinaryClassification, MulticlassClassification, TaskKind, higher_is_better

# Bets of the mixture e-process: a small bet grows steadily on a small edge, a large one fast on a large
# edge; their average is an e-process too and is within a factor len(BETS) of the best of them.
BETS = (0.025, 0.05, 0.1, 0.2, 0.4, 0.7)
# Half-life, in units of evidence, of the recent mean that says whether a never-rebuilt e-process bets (Evidence)
SWITCH_HALF_LIFE = 20
_DECAY = 0.5 ** (1 / SWITCH_HALF_LIFE)
_BLOCK = 256  # units per closed-form step of the recent mean: _DECAY ** -_BLOCK stays small (2 ** 12.8)
_POWERS = _DECAY ** np.arange(_BLOCK + 1)
_BET_COLUMN = np.asarray(BETS)[:, None]


def _metric(name: str):
    if name == "roc_auc":
        return fast_auc
    if name == "pr_auc":
        return lambda y, s: average_precision(y, s) if 0 < y.sum() < len(y) else float("nan")
    raise ValueError(f"unknown comparison metric {name!r}")


@dataclass(frozen=True)
class Comparison:
    metric: str
    baseline: float  # metric of the model we have (champion)
    candidate: float  # metric of the model we might switch to
    difference: float  # candidate - baseline
    low: float  # bootstrap confidence interval of the difference (for the reader)
    high: float
    rows: int
    positives: int
    # anytime-valid evidence that the candidate ranks better (rank_differences): the peak of the running
    # e-process over the rows in time order (stopping where it first crosses 1/alpha is a valid stop, by Ville)
    e_value: float | None = None
    alpha: float = 0.05
    higher_is_better: bool = True  # False for losses and errors (log_loss, rmse, mae)

    @property
    def improvement(self) -> float:
        """How much better the candidate is (positive: better), whatever the metric's direction."""
        return self.difference if self.higher_is_better else -self.difference

    def wins_by(self, margin: float) -> bool:
        """Better by at least `margin` on the metric, and the evidence suffices: e-value >= 1/alpha
        (valid under repeated looks); without an e-value, the whole bootstrap interval on the better side."""
        if self.improvement < margin:
            return False
        if self.e_value is not None:
            return self.e_value >= 1 / self.alpha
        return self.low > 0 if self.higher_is_better else self.high < 0

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def rank_differences(y_true, baseline_scores, candidate_scores) -> np.ndarray:
    """One value per positive row (in the order given) that has negatives since the previous positive:
    the share of those negatives the candidate ranks below it minus the baseline's share (ties count half).
    In [-1, 1], mean = candidate AUC - baseline AUC, independent across positives for rows drawn iid."""
    y = np.asarray(y_true).astype(bool)
    a, b = np.asarray(baseline_scores, dtype=float), np.asarray(candidate_scores, dtype=float)
    positives = np.flatnonzero(y)
    if positives.size == 0:
        return np.zeros(0)
    negatives = np.flatnonzero(~y)
    block = np.searchsorted(positives, negatives)  # each negative belongs to the next positive after it
    inside = block < positives.size
    negatives, block = negatives[inside], block[inside]
    counts = np.bincount(block, minlength=positives.size)

    def share(scores: np.ndarray) -> np.ndarray:
        above = scores[positives][block]
        wins = (above > scores[negatives]) + 0.5 * (above == scores[negatives])
        return np.bincount(block, weights=wins, minlength=positives.size)

    kept = counts > 0
    return (share(b) - share(a))[kept] / counts[kept]


def relative_loss_differences(baseline_losses, candidate_losses) -> np.ndarray:
    """One value per row in [-1, 1]: (baseline loss - candidate loss) / (their sum), 0 where both are 0.
    Scale-free and bounded, as the e-process needs, yet it weighs a large repair more than a small slip (a
    sign test would let many rows of slightly more noise outvote a segment the candidate repairs)."""
    a, b = np.asarray(baseline_losses, dtype=float), np.asarray(candidate_losses, dtype=float)
    total = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (a - b) / total, 0.0)


def e_process(differences: np.ndarray) -> np.ndarray:
    """Running e-value against "the candidate is no better" (mean difference <= 0), one per row.

    Each bet lambda multiplies the wealth by (1 + lambda * x) per row; under the null that is a
    nonnegative supermartingale for x in [-1, 1] and lambda in [0, 1). The mixture over BETS is one too."""
    x = np.clip(np.asarray(differences, dtype=float), -1, 1)
    if x.size == 0:
        return np.ones(0)
    bets = np.asarray(BETS)[:, None]
    # wealth in logs, capped far beyond any 1/alpha: an overwhelming win stays a finite number
    return np.exp(np.minimum(np.cumsum(np.log1p(bets * x[None, :]), axis=1), 200.0)).mean(axis=0)


def evidence_units(kind: TaskKind, y, baseline_scores, candidate_scores) -> np.ndarray:
    """The e-process's units, in the rows' order: binary, one per positive (both metrics are about ranking the
    positives first); else one per row, how much lower the candidate's loss is, relative to the two losses."""
    if isinstance(kind, BinaryClassification):
        return rank_differences(y, baseline_scores, candidate_scores)
    return relative_loss_differences(kind.row_losses(y, baseline_scores), kind.row_losses(y, candidate_scores))


@dataclass(frozen=True)
class Evidence:
    """One e-process that is only ever extended, never rebuilt: the rollback guardrail's, over the rows a
    champion served since its promotion, in time order (against "the candidate is no better").

    Each bet of BETS is placed on a unit only while the units before it lean the candidate's way (their
    exponentially weighted mean, half-life SWITCH_HALF_LIFE units, is >= 0). A bet chosen from the past alone
    keeps the wealth a nonnegative supermartingale under the null, so Ville's bound holds over the whole
    sequence however often it is looked at; and sitting out while the champion is clearly better keeps the
    wealth for a regression that comes later (a concept that reverts), which bets that never stop would lose."""

    log_wealth: tuple[float, ...] = (0.0,) * len(BETS)  # one per bet of BETS
    peak: float = 1.0  # the highest value so far (stopping where it first crossed 1/alpha is a valid stop)
    recent: float = 0.0  # the weighted mean of the units so far: does the next unit get bets?
    units: int = 0

    @property
    def value(self) -> float:
        return float(np.exp(self.log_wealth).mean())

    def extend(self, differences) -> Evidence:
        """The e-process after the next units (in [-1, 1], in time order)."""
        x = np.clip(np.asarray(differences, dtype=float), -1, 1)
        if x.size == 0:
            return self
        before, recent = _weighted_means_before(x, self.recent)
        steps = np.log1p(_BET_COLUMN * (x * (before >= 0))[None, :])
        # wealth in logs, capped far beyond any 1/alpha: an overwhelming win stays a finite number
        wealth = np.minimum(np.cumsum(steps, axis=1) + np.asarray(self.log_wealth)[:, None], 200.0)
        peak = max(self.peak, float(np.exp(wealth).mean(axis=0).max()))
        return Evidence(log_wealth=tuple(wealth[:, -1].tolist()), peak=peak, recent=recent,
                        units=self.units + int(x.size))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Evidence:
        return cls(log_wealth=tuple(float(w) for w in data["log_wealth"]), peak=float(data["peak"]),
                   recent=float(data["recent"]), units=int(data["units"]))


def _weighted_means_before(x: np.ndarray, start: float) -> tuple[np.ndarray, float]:
    """m[j], the exponentially weighted mean of the units before unit j (m[0] = `start`, each step
    m <- _DECAY * m + (1 - _DECAY) * x), and the mean after the last unit. In closed form per block of units
    (vectorised: one unit per row on a 1M-row regression day)."""
    means, m = np.empty(x.size), start
    for i in range(0, x.size, _BLOCK):
        chunk = x[i:i + _BLOCK]
        n = chunk.size
        inner = np.cumsum(chunk / _POWERS[1:n + 1])  # sum over k <= j of x_k * _DECAY ** -(k + 1)
        means[i] = m
        means[i + 1:i + n] = _POWERS[1:n] * (m + (1 - _DECAY) * inner[:-1])
        m = float(_POWERS[n] * (m + (1 - _DECAY) * inner[-1]))
    return means, m


def with_evidence(comparison: Comparison, evidence: Evidence, candidates: int) -> Comparison:
    """`comparison` (the metrics people read, on recent rows) decided by a never-rebuilt e-process instead of the
    one of its own rows, at the level split across the `candidates` that may be tried (Bonferroni: each needs an
    e-value of candidates/alpha, so the chance that any of them is ever picked by chance stays at most alpha)."""
    return replace(comparison, e_value=evidence.peak, alpha=comparison.alpha / max(candidates, 1))


def resampled_auc(y_true: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC of each resample, given as how many times it draws each row (`counts`, rows x resamples):
    the same value as `fast_auc` on the rows repeated that often (ties count half), from one sort of the
    scores instead of one per resample. NaN where a resample holds one class only."""
    y = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    negatives = np.flatnonzero(~y)
    order = negatives[np.argsort(scores[negatives], kind="stable")]
    # below[k]: draws of the k lowest-scored negatives, per resample (a running sum over negatives only)
    below = np.zeros((len(order) + 1, counts.shape[1]), dtype=np.int64)
    np.cumsum(counts[order], axis=0, out=below[1:])
    positives = np.flatnonzero(y)
    lowest, highest = (np.searchsorted(scores[order], scores[positives], side=side) for side in ("left", "right"))
    # each positive beats the negatives scored below it, and ties half of those scored the same
    beaten = below[lowest] + 0.5 * (below[highest] - below[lowest])
    wins = (counts[positives] * beaten).sum(axis=0)
    pairs = counts[positives].sum(axis=0).astype(float) * below[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)


def _resample_counts(rng: np.random.Generator, rows: int, rounds: int) -> np.ndarray:
    """Rows drawn with replacement, `rounds` times: how often each round draws each row (rows x rounds)."""
    return np.stack([np.bincount(rng.integers(0, rows, rows), minlength=rows) for _ in range(rounds)], axis=1)


def _resampled_metric(kind: TaskKind, metric: str, y: np.ndarray, scores: np.ndarray, counts: np.ndarray
                      ) -> np.ndarray:
    """The metric of each resample (`counts`: rows x resamples), from one pass over the rows."""
    n = counts.sum(axis=0).astype(float)
    if metric == "roc_auc" and isinstance(kind, MulticlassClassification):  # macro one-vs-rest
        truth = kind.onehot(y)
        per_class = np.stack([resampled_auc(truth[:, i], scores[:, i], counts) for i in range(truth.shape[1])])
        with warnings.catch_warnings():  # a resample without some class: that class is left out of the mean
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(per_class, axis=0)
    if metric == "roc_auc":
        return resampled_auc(y, scores, counts)
    if metric == "pr_auc":
        score = _metric(metric)
        picks = [np.repeat(np.arange(len(y)), column) for column in counts.T]
        return np.array([score(y[idx], scores[idx]) for idx in picks])
    if metric == "r2":
        target = np.asarray(y, dtype=float)
        squared = counts.T @ (np.asarray(scores, dtype=float) - target) ** 2
        spread = counts.T @ target**2 - (counts.T @ target) ** 2 / n
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(spread > 0, 1 - squared / spread, np.nan)
    # means of per-row losses
    if metric == "mae":
        losses = np.abs(np.asarray(scores, dtype=float) - np.asarray(y, dtype=float))
    else:  # rmse (on squared errors), log_loss
        losses = kind.row_losses(y, scores)
    means = counts.T @ losses / n
    return np.sqrt(means) if metric == "rmse" else means


def paired_bootstrap(y_true, baseline_scores, candidate_scores, *, metric: str = "roc_auc", rounds: int = 300,
                     confidence: float = 0.95, seed: int = 0, alpha: float = 0.05,
                     kind: TaskKind | None = None) -> Comparison:
    """The metric difference with a paired bootstrap interval (rows resampled once for both models) and the
    anytime-valid e-value of the rows in the order given (give them in time order), tested at `alpha`.
    `kind` (default: a binary classifier) says what the scores are and how the metric is computed.
    `rounds=0`: no interval (NaN); it is the reader's, the decision reads the e-value."""
    kind = kind or BinaryClassification()
    binary = isinstance(kind, BinaryClassification)
    y = np.asarray(y_true).astype(int) if binary else np.asarray(y_true)
    a = np.asarray(baseline_scores, dtype=float)
    b = np.asarray(candidate_scores, dtype=float)
    rng = np.random.default_rng(seed)
    diffs: list[float] = []
    # Resamples in blocks of about 4M row counts: bounded memory on many labelled rows
    block = max(1, min(rounds, 4_000_000 // max(len(y), 1)))
    for start in range(0, rounds, block):
        counts = _resample_counts(rng, len(y), min(block, rounds - start))
        # one pass (one sort, for AUC) per model for the whole block: the bootstrap's cost was the sorts
        diff = _resampled_metric(kind, metric, y, b, counts) - _resampled_metric(kind, metric, y, a, counts)
        diffs.extend(float(d) for d in diff if d == d)
    quantile = (1 - confidence) / 2
    low, high = (np.quantile(diffs, [quantile, 1 - quantile]) if diffs else (float("nan"), float("nan")))
    base, cand = kind.evaluate(y, a)[metric], kind.evaluate(y, b)[metric]
    running = e_process(evidence_units(kind, y, a, b))
    e_value = float(running.max()) if running.size else 1.0
    return Comparison(metric=metric, baseline=float(base), candidate=float(cand), difference=float(cand - base),
                      low=float(low), high=float(high), rows=int(len(y)),
                      positives=int(y.sum()) if binary else int(len(y)), e_value=e_value, alpha=alpha,
                      higher_is_better=higher_is_better(metric))

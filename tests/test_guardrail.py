"""The automatic rollback keeps its false-alarm rate (issue #20): one e-process per promotion over the rows
served since, in time order, never rebuilt, at the level split across the rollback candidates tried; and a
true regression still rolls back at once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from modelguard.compare import Comparison, Evidence, e_process, rank_differences, with_evidence
from modelguard.config import parse_config
from modelguard.policy import State, decide
from modelguard.policy_state import _tenure_evidence
from modelguard.storage import Lake
from tests.conftest import FRAUD_MODEL

CONFIG = parse_config({"model": FRAUD_MODEL}, base_dir=Path("/tmp"))
ALPHA = CONFIG.challenger.alpha
# 500 rows a day at ~20% positives: ~100 units of evidence a day (one per positive), as 5,000 rows at 2%,
# at a tenth of the cost. The models are equally good (the same signal, independent noise).
ROWS, DAYS, SEQUENCES, CANDIDATES, LOGIT_SHIFT = 500, 30, 200, 2, 2.2
NAN = float("nan")


def _auc(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of `scores` (sequences x rows, no ties), all at once."""
    ranks = np.empty(scores.shape, dtype=np.int64)
    np.put_along_axis(ranks, np.argsort(scores, axis=1), np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    positives = y.sum(axis=1)
    return ((ranks * y).sum(axis=1) - positives * (positives + 1) / 2) / (positives * (y.shape[1] - positives))


def _rolls_back(comparison: Comparison, champion_metric: float, bar: float) -> bool:
    """`decide` on a healthy day with this guardrail comparison (the previous champion healthy on its holdout)."""
    state = State(batch_id="2026-09-10", batch_status="accepted", champion_version="2", champion_metric=champion_metric,
                  champion_baseline=bar, service_baseline=bar, previous_champion_baseline=bar, guardrail=comparison,
                  rollback_to="1", days_since_challenger=3)
    return any(a.action == "rollback" for a in decide(state, CONFIG))


def test_daily_looks_at_two_equal_models_keep_the_false_rollback_rate() -> None:
    """200 null sequences of 30 labelled days, looked at daily through the guardrail's comparison and `decide`:
    with the promotion's one e-process, false rollbacks stay <= alpha, trying the previous champion alone or
    two candidates (first winner taken, the level split between them). The window's own e-value, rebuilt
    every day as the landed guardrail did, rolls back far more often in the same sequences (about 14% and 24%):
    the setting shows the hole."""
    rng = np.random.default_rng(20)
    signal = rng.normal(size=(SEQUENCES, DAYS * ROWS))
    y = (rng.random(signal.shape) < 1 / (1 + np.exp(-(2 * signal - LOGIT_SHIFT)))).astype(int)
    champion, *candidates = (signal + rng.normal(size=signal.shape) for _ in range(CANDIDATES + 1))
    bar = float(_auc(y[:, :5 * ROWS], champion[:, :5 * ROWS]).mean())  # the service level: their true AUC
    window = CONFIG.policy.guardrail_days
    evidence = [[Evidence() for _ in candidates] for _ in range(SEQUENCES)]
    rolled = {arm: np.zeros(SEQUENCES, dtype=bool) for arm in ("one", "several", "rebuilt one", "rebuilt several")}
    for day in range(DAYS):
        today = slice(day * ROWS, (day + 1) * ROWS)
        for i in range(SEQUENCES):  # the tenure's e-processes, extended by each labelled day, never rebuilt
            evidence[i] = [e.extend(rank_differences(y[i, today], champion[i, today], c[i, today]))
                           for e, c in zip(evidence[i], candidates, strict=True)]
        if day + 1 < window:
            continue
        recent = slice((day + 1 - window) * ROWS, (day + 1) * ROWS)  # the metrics people read: the latest days
        ours, theirs = _auc(y[:, recent], champion[:, recent]), [_auc(y[:, recent], c[:, recent]) for c in candidates]
        for i in range(SEQUENCES):
            for j, candidate in enumerate(candidates):
                shown = Comparison("roc_auc", baseline=float(ours[i]), candidate=float(theirs[j][i]),
                                   difference=float(theirs[j][i] - ours[i]), low=NAN, high=NAN, rows=2 * ROWS,
                                   positives=int(y[i, recent].sum()), alpha=ALPHA)
                if j == 0 and not rolled["one"][i]:
                    rolled["one"][i] = _rolls_back(with_evidence(shown, evidence[i][j], 1), ours[i], bar)
                if not rolled["several"][i]:
                    rolled["several"][i] = _rolls_back(with_evidence(shown, evidence[i][j], CANDIDATES), ours[i], bar)
                # the landed guardrail: an e-process rebuilt on the window (only needed where the margin is met)
                arms = [arm for arm in (["rebuilt one"] if j == 0 else []) + ["rebuilt several"] if not rolled[arm][i]]
                if arms and shown.improvement >= CONFIG.policy.rollback_margin:
                    own = float(e_process(rank_differences(y[i, recent], champion[i, recent],
                                                           candidate[i, recent])).max())
                    for arm in arms:
                        rolled[arm][i] = _rolls_back(Comparison(**{**shown.__dict__, "e_value": own}), ours[i], bar)
    rates = {arm: float(r.mean()) for arm, r in rolled.items()}
    assert rates["one"] <= ALPHA and rates["several"] <= ALPHA, rates
    assert rates["rebuilt one"] > ALPHA and rates["rebuilt several"] > rates["rebuilt one"], rates


def _rollback_day(evidence_of, days: int, reversal: int, seed: int) -> int | None:
    """First daily look that rolls back a promotion whose concept reverts on day `reversal`: the champion fits
    the new concept, the previous champion the old one. `evidence_of(day, y, ours, theirs, recent)` gives the
    comparison's e-value for the look."""
    rng = np.random.default_rng(seed)
    old, new = rng.normal(size=(2, days * ROWS))
    concept = np.where(np.arange(days * ROWS) < reversal * ROWS, new, old)
    y = (rng.random(days * ROWS) < 1 / (1 + np.exp(-(2 * concept - LOGIT_SHIFT)))).astype(int)
    ours, theirs = new + rng.normal(size=new.size), old + rng.normal(size=old.size)
    bar = float(_auc(y[None, reversal * ROWS:], theirs[None, reversal * ROWS:])[0])
    window = CONFIG.policy.guardrail_days
    for day in range(days):
        today = slice(day * ROWS, (day + 1) * ROWS)
        recent = slice(max(0, day + 1 - window) * ROWS, (day + 1) * ROWS)
        e_value = evidence_of(y[today], ours[today], theirs[today], (y[recent], ours[recent], theirs[recent]))
        if day + 1 < window:
            continue
        base, cand = (float(_auc(y[None, recent], s[None, recent])[0]) for s in (ours, theirs))
        shown = Comparison("roc_auc", baseline=base, candidate=cand, difference=cand - base, low=NAN, high=NAN,
                           rows=2 * ROWS, positives=int(y[recent].sum()), alpha=ALPHA, e_value=e_value)
        if _rolls_back(shown, base, bar):
            return day
    return None


def _since_promotion():
    """The promotion's one e-process, extended by each labelled day, as the guardrail's comparison reads it."""
    tenure = [Evidence()]

    def look(y, ours, theirs, recent):
        tenure[0] = tenure[0].extend(rank_differences(y, ours, theirs))
        return with_evidence(Comparison("roc_auc", 0, 0, 0, NAN, NAN, 0, 0, alpha=ALPHA), tenure[0], 1).e_value

    return look


def _rebuilt(y, ours, theirs, recent):
    """The landed guardrail's: an e-process rebuilt on the recent window at each look."""
    return float(e_process(rank_differences(*recent)).max())


def test_a_concept_that_reverts_rolls_back_as_soon_as_a_rebuilt_window_did() -> None:
    """Ten days of the promoted model being clearly better (its e-process sits out, keeping its wealth), then
    the concept reverts: the promotion's one e-process rolls back on the same look as the window's own rebuilt
    one did, the first whose recent days are all reverted."""
    reversal = 10
    for seed in range(3):
        now, before = _rollback_day(_since_promotion(), 16, reversal, seed), _rollback_day(_rebuilt, 16, reversal, seed)
        assert before is not None and now is not None and now <= before, (seed, now, before)
        assert now <= reversal + CONFIG.policy.guardrail_days - 1, (seed, now)  # the first all-reverted window


def _day_rows(seed: int, version: str, previous: str, rows: int = ROWS) -> pd.DataFrame:
    """A labelled day's predictions as the lake holds them: both versions shadow-scored."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    return pd.DataFrame({"is_fraud": (rng.random(rows) < 1 / (1 + np.exp(-(2 * signal - LOGIT_SHIFT)))).astype(int),
                         "score_champion": signal + rng.normal(size=rows), "version_champion": version,
                         "score_previous_champion": signal + rng.normal(size=rows),
                         "version_previous_champion": previous})


def _units(frame: pd.DataFrame) -> np.ndarray:
    return rank_differences(frame["is_fraud"], frame["score_champion"], frame["score_previous_champion"])


def test_the_tenure_evidence_only_ever_extends(tmp_path: Path) -> None:
    """Persisted per promotion and extended in the order days are labelled: a late day is appended after the
    days seen before it arrived, corrected labels of a day already seen change nothing, a rerun of a look
    reads what that look saw, and a look at an older day adds nothing."""
    config = parse_config({"model": FRAUD_MODEL, "storage": {"root": str(tmp_path)}}, base_dir=tmp_path)
    lake = Lake(config.storage_root)
    champion, previous = SimpleNamespace(version="2", tags={}), SimpleNamespace(version="1", tags={})
    ids = [f"2026-09-0{d}" for d in range(2, 7)]
    days = {d: _day_rows(seed, "2", "1") for seed, d in enumerate(ids)}

    def look(batch_id: str, labelled: list[str]) -> Evidence:
        evidence = _tenure_evidence(lake, config, None, champion, "2026-09-01", [previous], [previous], labelled,
                                    batch_id, days.get)
        return evidence.get("1", Evidence())

    first = look(ids[2], [ids[0], ids[2]])  # the 2nd day's labels are late
    assert first == Evidence().extend(_units(days[ids[0]])).extend(_units(days[ids[2]]))
    stored = lake.guardrail_evidence("2", "2026-09-01").read_bytes()
    original = days[ids[0]]
    days[ids[0]] = original.assign(is_fraud=1 - original["is_fraud"])  # corrected labels of a day already seen
    assert look(ids[2], [ids[0], ids[1], ids[2]]) == first  # a rerun of the look: what it saw
    assert lake.guardrail_evidence("2", "2026-09-01").read_bytes() == stored
    later = look(ids[3], [ids[0], ids[1], ids[2], ids[3]])
    assert later == first.extend(_units(days[ids[1]])).extend(_units(days[ids[3]]))  # the late day, then the new one
    assert later.units == sum(len(_units(days[d])) for d in ids[1:4]) + len(_units(original))
    assert look("2026-09-03", [ids[0], ids[1]]) == Evidence()  # an older day than the latest look: no new evidence
    assert look(ids[3], ids[:5]) == later

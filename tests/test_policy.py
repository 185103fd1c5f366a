"""The policy engine, one row per situation (field guide: data incident, covariate drift, concept
drift, bad promotion, quiet day)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelguard.compare import Comparison
from modelguard.config import parse_config
from modelguard.policy import State, decide
from tests.conftest import FRAUD_MODEL

CONFIG = parse_config({"model": FRAUD_MODEL}, base_dir=Path("/tmp"))
HEALTHY = {"champion_version": "1", "champion_metric": 0.87, "champion_baseline": 0.86, "service_baseline": 0.86,
           "positive_rate": 0.03,
           "reference_positive_rate": 0.027, "days_since_challenger": 3}
PREVIOUS_BETTER = Comparison("roc_auc", baseline=0.55, candidate=0.84, difference=0.29, low=0.22, high=0.35, rows=8000, positives=160)
BOTH_FAIL = Comparison("roc_auc", baseline=0.30, candidate=0.34, difference=0.04, low=0.02, high=0.06, rows=8000, positives=160)
NOISE = Comparison("roc_auc", baseline=0.85, candidate=0.855, difference=0.005, low=-0.02, high=0.03, rows=8000, positives=160)

CASES = [
    # (situation, state changes, expected actions, expected retrain trigger)
    ("quiet day", {}, ["no_action"], None),
    ("data incident: quarantined batch", {"batch_status": "quarantined", "drifted_features": ("amount",), "drift_streak": 5},
     ["no_action"], None),
    ("data incident during a performance drop never retrains",
     {"batch_status": "quarantined", "champion_metric": 0.5}, ["no_action", "performance_alert"], None),
    ("missing batch", {"batch_status": "missing"}, ["no_action"], None),
    ("covariate drift, first day", {"drifted_features": ("merchant_category",), "drift_streak": 1}, ["drift_alert"], None),
    ("covariate drift that persists", {"drifted_features": ("merchant_category",), "drift_streak": 3},
     ["drift_alert", "retrain"], "drift"),
    ("output anomaly: predicted positive rate jumps", {"positive_rate": 0.9}, ["drift_alert"], None),
    ("concept drift", {"champion_metric": 0.6}, ["performance_alert", "retrain"], "performance"),
    ("concept drift: the cooldown does not hold back a repair", {"champion_metric": 0.6, "days_since_retrain": 1},
     ["performance_alert", "retrain"], "performance"),
    ("concept drift, no labels since the last challenger",
     {"champion_metric": 0.6, "onset": "2026-09-06", "retrained_through": "2026-09-07", "latest_labelled": "2026-09-07"},
     ["performance_alert"], None),
    ("concept drift, new labels since the last challenger",
     {"champion_metric": 0.6, "onset": "2026-09-06", "retrained_through": "2026-09-06", "latest_labelled": "2026-09-07"},
     ["performance_alert", "retrain"], "performance"),
    ("concept drift with a repairing challenger awaiting approval",
     {"champion_metric": 0.6, "challenger_pending": True, "challenger_repairs": True}, ["performance_alert"], None),
    ("concept drift with a partial fix awaiting approval: the search goes on",
     {"champion_metric": 0.6, "challenger_pending": True, "challenger_repairs": False},
     ["performance_alert", "retrain"], "performance"),
    ("a bad promotion does not lower the bar: judged against the service, not its own holdout",
     {"champion_version": "4", "champion_metric": 0.30, "champion_baseline": 0.563, "service_baseline": 0.873},
     ["performance_alert", "retrain"], "performance"),
    ("small dip inside tolerance", {"champion_metric": 0.80}, ["no_action"], None),
    ("a partial repair within tolerance: the search goes on, at the cooldown's pace",
     {"champion_metric": 0.80, "onset": "2026-09-03", "retrained_through": "2026-09-05", "latest_labelled": "2026-09-07",
      "days_since_retrain": 3}, ["retrain"], "performance"),
    ("a partial repair within tolerance, inside the cooldown",
     {"champion_metric": 0.80, "onset": "2026-09-03", "retrained_through": "2026-09-05", "latest_labelled": "2026-09-07",
      "days_since_retrain": 1}, ["no_action"], None),
    ("champion performance not known yet", {"champion_metric": None}, ["no_action"], None),
    ("undecided challenger, new labels: re-checked", {"challenger_evaluating": True}, ["retrain"], "recheck"),
    ("undecided challenger during a cooldown: a re-check is not a retraining",
     {"challenger_evaluating": True, "days_since_retrain": 1}, ["retrain"], "recheck"),
    ("bad promotion", {"guardrail": PREVIOUS_BETTER, "champion_metric": 0.55}, ["performance_alert", "rollback"], None),
    ("bad promotion, previous champion healthy again", {"guardrail": PREVIOUS_BETTER, "previous_champion_baseline": 0.86,
                                                         "champion_metric": 0.55}, ["performance_alert", "rollback"], None),
    ("concept drift: both champions fail, rolling back fixes nothing",
     {"guardrail": BOTH_FAIL, "previous_champion_baseline": 0.86, "champion_metric": 0.30},
     ["performance_alert", "retrain"], "performance"),
    ("promotion within noise", {"guardrail": NOISE}, ["no_action"], None),
    ("scheduled challenger cycle", {"days_since_challenger": 14}, ["retrain"], "schedule"),
]


@pytest.mark.parametrize(("situation", "changes", "expected", "trigger"), CASES, ids=[c[0] for c in CASES])
def test_policy(situation: str, changes: dict, expected: list[str], trigger: str | None) -> None:
    state = State(batch_id="2026-09-10", **{"batch_status": "accepted", **HEALTHY, **changes})
    actions = decide(state, CONFIG)
    assert [a.action for a in actions] == expected
    retrain = [a for a in actions if a.action == "retrain"]
    assert (retrain[0].evidence["trigger"] if retrain else None) == trigger
    assert all(a.reason for a in actions)
    # "quiet day" is only said of a champion known to meet the service level
    for action in actions:
        if "quiet day" in action.reason:
            assert state.champion_metric is not None and state.champion_metric >= state.service_baseline

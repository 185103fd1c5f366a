"""The policy engine, one row per situation (field guide: data incident, covariate drift, concept
drift, bad promotion, quiet day)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelguard.compare import Comparison
from modelguard.config import parse_config
from modelguard.policy import State, decide, onset_day
from modelguard.policy_state import drift_streak
from modelguard.storage import Lake
from tests.conftest import FRAUD_MODEL

CONFIG = parse_config({"model": FRAUD_MODEL}, base_dir=Path("/tmp"))
HEALTHY = {"champion_version": "1", "champion_metric": 0.87, "champion_baseline": 0.86, "service_baseline": 0.86,
           "output": {"predicted_positive_rate": 0.03}, "reference_output": {"predicted_positive_rate": 0.027},
           "days_since_challenger": 3}
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
    ("output anomaly: predicted positive rate jumps", {"output": {"predicted_positive_rate": 0.9}},
     ["drift_alert"], None),
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


# Regression judged on RMSE: lower is better, so "worse than the bar" is above it (thresholds in target units).
REGRESSION = parse_config({"model": {"name": "demand", "task": "regression", "target": "y", "id_column": "row_id",
                                     "features": {"numeric": ["x0", "x1"]}},
                           "challenger": {"metric": "rmse", "min_improvement": 0.1},
                           "policy": {"max_metric_drop": 0.5, "rollback_margin": 0.2}}, base_dir=Path("/tmp"))
REGRESSION_HEALTHY = {"champion_version": "1", "champion_metric": 0.95, "champion_baseline": 1.0,
                      "service_baseline": 1.0, "output": {"mean_prediction": 14.1, "prediction_std": 4.9},
                      "reference_output": {"mean_prediction": 14.0, "prediction_std": 5.0}, "days_since_challenger": 3}
RMSE_PREVIOUS_BETTER = Comparison("rmse", baseline=3.0, candidate=1.1, difference=-1.9, low=-2.2, high=-1.6, rows=4000,
                                  positives=4000, e_value=1e6, higher_is_better=False)
RMSE_CASES = [
    ("quiet day", {}, ["no_action"], None),
    ("better than the bar is not a drop", {"champion_metric": 0.8}, ["no_action"], None),
    ("small rise of the error inside tolerance", {"champion_metric": 1.4}, ["no_action"], None),
    ("concept drift: the error rises past the tolerance", {"champion_metric": 3.2}, ["performance_alert", "retrain"],
     "performance"),
    ("output anomaly: the mean prediction moves by more than a reference deviation",
     {"output": {"mean_prediction": 22.0, "prediction_std": 5.0}}, ["drift_alert"], None),
    ("bad promotion: the previous champion's error is lower on the same rows",
     {"guardrail": RMSE_PREVIOUS_BETTER, "previous_champion_baseline": 1.0, "champion_metric": 3.0},
     ["performance_alert", "rollback"], None),
]


@pytest.mark.parametrize(("situation", "changes", "expected", "trigger"), RMSE_CASES, ids=[c[0] for c in RMSE_CASES])
def test_policy_on_a_lower_is_better_metric(situation: str, changes: dict, expected: list[str], trigger: str | None
                                            ) -> None:
    state = State(batch_id="2026-09-10", **{"batch_status": "accepted", **REGRESSION_HEALTHY, **changes})
    actions = decide(state, REGRESSION)
    assert [a.action for a in actions] == expected
    retrain = [a for a in actions if a.action == "retrain"]
    assert (retrain[0].evidence["trigger"] if retrain else None) == trigger
    if situation == "quiet day":
        assert "quiet day" in actions[0].reason


def test_multiclass_output_anomaly_is_a_class_share_jump() -> None:
    config = parse_config({"model": {"name": "grades", "task": "multiclass_classification", "target": "grade",
                                     "id_column": "loan_id", "classes": [0, 1, 2],
                                     "features": {"numeric": ["income"]}}}, base_dir=Path("/tmp"))
    reference = {"predicted_share_0": 0.5, "predicted_share_1": 0.3, "predicted_share_2": 0.2}
    quiet = State(batch_id="2026-09-10", batch_status="accepted", champion_version="1", output=dict(reference),
                  reference_output=reference, days_since_challenger=3)
    assert [a.action for a in decide(quiet, config)] == ["no_action"]
    jump = State(**{**quiet.__dict__, "output": {"predicted_share_0": 0.05, "predicted_share_1": 0.3,
                                                 "predicted_share_2": 0.65}})
    alerts = [a for a in decide(jump, config) if a.alert == "output_anomaly"]
    assert alerts and "class 0" in alerts[0].reason and "class 2" in alerts[0].reason


NAN = float("nan")
D = [f"2026-09-0{d}" for d in range(1, 6)]
ONSET_CASES = [
    # (situation, (day, served metric) in day order, metric, expected onset); bar 0.86 (rmse: 1.0), tolerance 0.1
    ("the trailing run starts at its first day", [(D[0], 0.85), (D[1], 0.6), (D[2], 0.6)], "roc_auc", D[1]),
    ("a latest day that meets the bar: no run", [(D[0], 0.6), (D[1], 0.85)], "roc_auc", None),
    ("a NaN day inside the run does not break it", [(D[0], 0.85), (D[1], 0.6), (D[2], NAN), (D[3], 0.6)], "roc_auc",
     D[1]),
    ("a NaN day just before the run does not start it early", [(D[0], 0.85), (D[1], NAN), (D[2], 0.6)], "roc_auc",
     D[2]),
    ("a NaN latest day after a healthy day starts no run", [(D[0], 0.85), (D[1], NAN)], "roc_auc", None),
    ("a NaN latest day after a run: the run holds", [(D[0], 0.85), (D[1], 0.6), (D[2], NAN)], "roc_auc", D[1]),
    ("only NaN days: no run", [(D[0], NAN), (D[1], NAN)], "roc_auc", None),
    ("lower is better: a NaN day before the error rose", [(D[0], 1.0), (D[1], NAN), (D[2], 1.5)], "rmse", D[2]),
]


@pytest.mark.parametrize(("situation", "days", "metric", "expected"), ONSET_CASES, ids=[c[0] for c in ONSET_CASES])
def test_onset_skips_days_without_a_metric(situation: str, days: list, metric: str, expected: str | None) -> None:
    """A day whose metric is NaN (one class only) says nothing about the bar: it neither starts nor breaks the
    run of days below it."""
    bar, tolerance = (1.0, 0.1) if metric == "rmse" else (0.86, 0.1)
    assert onset_day(days, bar, tolerance, metric) == expected


def test_a_drift_streak_counts_only_days_that_raised_a_drift_alert(tmp_path: Path) -> None:
    """Three days with one drifted feature each, two needed for a drift_alert: no alert, no streak, no drift
    retrain. With two drifted features each day, the streak is three and the retrain starts."""
    config = parse_config({"model": FRAUD_MODEL, "storage": {"root": str(tmp_path)},
                           "drift": {"min_drifted_features": 2}}, base_dir=tmp_path)
    lake = Lake(config.storage_root)
    for drifted, expected in ((["amount"], 0), (["amount", "channel"], 3)):
        for day in D[:3]:
            lake.write_json({"drifted_features": drifted}, lake.report_dir(day) / "drift.json")
        streak = drift_streak(lake, config, D[2])
        assert streak == expected
        actions = decide(State(batch_id=D[2], batch_status="accepted", drifted_features=tuple(drifted),
                               drift_streak=streak, **HEALTHY), config)
        retrain = [a.evidence["trigger"] for a in actions if a.action == "retrain"]
        assert ("drift" in retrain) == (expected >= config.policy.drift_days_to_retrain), actions
        assert any(a.action == "drift_alert" for a in actions) == (len(drifted) >= 2)


def test_a_rollback_line_names_its_evidence() -> None:
    """The rollback's reason says what decided it: the e-value of the promotion's one e-process, the bar it
    crossed (1/alpha, alpha split across the candidates), and how much evidence it rests on."""
    guardrail = Comparison("roc_auc", baseline=0.55, candidate=0.84, difference=0.29, low=0.22, high=0.35, rows=8000,
                           positives=160, e_value=5000.0, alpha=0.05 / 3)
    evidence = {"since": "2026-09-03", "units": 812, "candidates": 3}
    state = State(batch_id="2026-09-10", **{"batch_status": "accepted", **HEALTHY, "champion_metric": 0.55,
                                            "guardrail": guardrail, "guardrail_evidence": evidence})
    rollback = next(a for a in decide(state, CONFIG) if a.action == "rollback")
    assert "e-value 5e+03 >= 60" in rollback.reason and "812 units since 2026-09-03" in rollback.reason
    assert "split across 3" in rollback.reason and rollback.evidence["guardrail_evidence"] == evidence
    below = State(**{**state.__dict__, "guardrail": Comparison(**{**guardrail.__dict__, "e_value": 50.0})})
    assert not [a for a in decide(below, CONFIG) if a.action == "rollback"]  # 50 < 3/alpha: not enough

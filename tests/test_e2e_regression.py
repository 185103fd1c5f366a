"""End to end on a schema unlike the demo's: a regression stream (Friedman #1: ten numeric features, no
categories, no segments, no timestamp) replayed through the real DAGs, judged on RMSE (lower is better).
A batch whose x2 arrives all null is quarantined; a concept drift (the target's formula changes, the
features do not) raises a performance alert and a challenger that, approved, is promoted; the days before
stay quiet."""

from __future__ import annotations

import pandas as pd
import pytest

from modelguard import decisions
from modelguard.health_page import page_data, timeline_figure
from modelguard.registry import CHAMPION, Registry
from modelguard.storage import Lake
from tests.streams import stream_lake
from tests.test_e2e_replay import SHORT_TIMELINE, modelguard

pytestmark = pytest.mark.e2e

INCIDENT_DAY, DRIFTED_DAY, LABELS_OF_THE_DRIFT = "2026-09-03", "2026-09-05", "2026-09-07"


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    sections = {**SHORT_TIMELINE,
                # thresholds of an error metric are in the target's units
                "challenger": {**SHORT_TIMELINE["challenger"], "metric": "rmse", "min_improvement": 0.1},
                "policy": {**SHORT_TIMELINE["policy"], "max_metric_drop": 1.0, "rollback_margin": 0.2}}
    config, env = stream_lake(tmp_path_factory.mktemp("regression"), "regression", 10, drift_day=4, incident_day=2,
                              sections=sections)
    modelguard("replay", "--all", "--operator-approves", env=env)
    return config, Lake(config.storage_root)


def test_the_null_feature_batch_is_quarantined_and_never_scored(replayed) -> None:
    _, lake = replayed
    ingest = [e for e in decisions.for_batch(lake, INCIDENT_DAY) if e["dag_id"] == "modelguard_ingest"
              and e.get("kind") != "labels"]
    assert [e["action"] for e in ingest] == ["quarantine_batch"] and "x2" in ingest[0]["reason"]
    assert not lake.predictions(INCIDENT_DAY).exists()


def test_predictions_are_values_and_the_outputs_are_profiled_as_a_regression(replayed) -> None:
    _, lake = replayed
    served = pd.read_parquet(lake.predictions("2026-09-01"))
    assert served["prediction"].dtype == "float64" and served["prediction"].equals(served["score_champion"])
    assert 5 < served["prediction"].mean() < 25  # Friedman #1's scale, not a probability
    health = pd.read_parquet(lake.health_table)
    assert {"mean_prediction", "prediction_std", "realized_rmse"} <= set(health["metric"])
    assert "estimated_rmse" not in set(health["metric"])
    checklist = lake.read_json(lake.report_dir("2026-09-02") / "checklist.json")
    notes = {c["item"]: c["note"] for c in checklist["checks"]}
    assert "no label-free estimate for regression" in notes["Error analysis"]
    assert notes["Output distribution"].startswith("mean prediction")


def test_days_before_the_drift_labels_stay_quiet(replayed) -> None:
    _, lake = replayed
    early = [e for e in decisions.read_decisions(lake) if e["dag_id"] == "modelguard_monitor"
             and e["batch_id"] < LABELS_OF_THE_DRIFT]
    assert early and all(e["action"] == "no_action" for e in early)
    assert any("quiet day" in e["reason"] for e in early)


def test_the_concept_drift_alerts_on_rmse_and_an_approved_challenger_is_promoted(replayed) -> None:
    config, lake = replayed
    log = decisions.read_decisions(lake)
    alerts = [e for e in log if e["action"] == "performance_alert"]
    assert alerts and alerts[0]["batch_id"] == LABELS_OF_THE_DRIFT
    evidence = alerts[0]["evidence"]
    assert evidence["realized"] > evidence["baseline"] + 1.0  # an error above the bar is the drop
    requests = [e for e in log if e["action"] == "request_approval"]
    assert requests and "rmse" in requests[0]["reason"]
    comparison = requests[0]["comparison"]
    assert comparison["candidate"] < comparison["baseline"] and comparison["higher_is_better"] is False
    promotions = [e for e in log if e["action"] == "promote"]
    assert promotions
    champion = Registry(config).by_alias(CHAMPION)
    assert champion.version != "1" and champion.tags["trigger"] == "performance"
    # the promoted challengers repair: their RMSE on the rows they were judged on is within tolerance of the bar
    promoted = {e["model_version"] for e in promotions}
    judged = [e for e in requests if e["model_version"] in promoted]
    assert judged and all(e["repairs"] == "yes" and e["comparison"]["candidate"] < float(evidence["baseline"]) + 1.0
                          for e in judged)


def test_the_page_says_there_is_no_estimate(replayed) -> None:
    config, _ = replayed
    data = page_data(config)
    assert data["estimate_note"].startswith("no estimate for regression") and data["higher_is_better"] is False
    assert "rmse, lower is better" in timeline_figure(data).to_json()
    assert set(data["timeline"]["output"]) == {"mean_prediction", "prediction_std"}

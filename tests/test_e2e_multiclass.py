"""End to end on a schema unlike the demo's: a three-class stream (loan grades) with integer-coded and
boolean categoricals, a nullable integer feature, timezone-aware timestamps and CSV batches, replayed
through the real DAGs and judged on macro one-vs-rest ROC AUC. A batch whose region codes switch to a new
code list is quarantined; a concept drift raises a performance alert and a challenger that, approved, is
promoted; the days before stay quiet."""

from __future__ import annotations

import pandas as pd
import pytest

from modelguard import decisions
from modelguard.health_page import page_data
from modelguard.registry import CHAMPION, Registry
from modelguard.storage import Lake
from tests.streams import stream_lake
from tests.test_e2e_replay import SHORT_TIMELINE, modelguard

pytestmark = pytest.mark.e2e

INCIDENT_DAY, LABELS_OF_THE_DRIFT = "2026-09-03", "2026-09-07"
CLASSES = (0, 1, 2)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    config, env = stream_lake(tmp_path_factory.mktemp("multiclass"), "multiclass", 10, drift_day=4, incident_day=2,
                              sections=SHORT_TIMELINE)
    modelguard("replay", "--all", "--operator-approves", env=env)
    return config, Lake(config.storage_root)


def test_csv_batches_with_zoned_timestamps_and_coded_categories_are_accepted(replayed) -> None:
    _, lake = replayed
    assert lake.landing("batches", "2026-09-01").suffix == ".csv"
    accepted = [e["batch_id"] for e in decisions.read_decisions(lake) if e["action"] == "accept_batch"
                and e.get("kind") != "labels"]
    assert len(accepted) == 9 and INCIDENT_DAY not in accepted
    batch = pd.read_parquet(lake.validated("batches", "2026-09-01"))
    assert batch["region_code"].dtype.kind == "i" and str(batch["has_guarantor"].dtype) in ("bool", "boolean")


def test_the_recoded_regions_are_quarantined_and_never_scored(replayed) -> None:
    _, lake = replayed
    ingest = [e for e in decisions.for_batch(lake, INCIDENT_DAY) if e["dag_id"] == "modelguard_ingest"
              and e.get("kind") != "labels"]
    assert [e["action"] for e in ingest] == ["quarantine_batch"] and "region_code" in ingest[0]["reason"]
    assert not lake.predictions(INCIDENT_DAY).exists()


def test_each_class_probability_is_stored_and_the_served_decision_is_a_class(replayed) -> None:
    _, lake = replayed
    served = pd.read_parquet(lake.predictions("2026-09-01"))
    per_class = served[[f"score_champion__{c}" for c in CLASSES]]
    assert (per_class.sum(axis=1) - 1).abs().max() < 1e-6
    assert set(served["prediction"]) <= set(CLASSES)
    assert (served["score_champion"] == per_class.max(axis=1)).all()
    perf = pd.read_parquet(lake.performance_table)
    assert {"roc_auc", "log_loss", *(f"recall_{c}" for c in CLASSES)} <= set(perf["metric"])
    health = pd.read_parquet(lake.health_table)
    assert {f"predicted_share_{c}" for c in CLASSES} | {"estimated_roc_auc"} <= set(health["metric"])


def test_days_before_the_drift_labels_stay_quiet(replayed) -> None:
    _, lake = replayed
    early = [e for e in decisions.read_decisions(lake) if e["dag_id"] in ("modelguard_monitor", "modelguard_challenge")
             and e["batch_id"] < LABELS_OF_THE_DRIFT]
    assert early and all(e["action"] == "no_action" for e in early)


def test_the_concept_drift_alerts_and_an_approved_challenger_is_promoted(replayed) -> None:
    config, lake = replayed
    log = decisions.read_decisions(lake)
    alerts = [e for e in log if e["action"] == "performance_alert"]
    assert alerts and alerts[0]["batch_id"] == LABELS_OF_THE_DRIFT and "roc_auc" in alerts[0]["reason"]
    requests = [e for e in log if e["action"] == "request_approval"]
    assert requests and requests[0]["comparison"]["candidate"] > requests[0]["comparison"]["baseline"]
    assert [e for e in log if e["action"] == "promote"]
    champion = Registry(config).by_alias(CHAMPION)
    assert champion.version != "1" and champion.tags["trigger"] == "performance"


def test_the_page_shows_class_shares_and_recall(replayed) -> None:
    config, _ = replayed
    data = page_data(config)
    assert data["estimate_note"] is None and data["timeline"]["estimated"]
    assert set(data["timeline"]["output"]) == {f"predicted_share_{c}" for c in CLASSES}
    assert {str(c) for c in CLASSES} <= set(data["class_recall"])

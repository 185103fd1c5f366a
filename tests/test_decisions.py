"""The decision log is append-only: what distinguishes two decisions of a day keeps both; a rerun that
reaches the same decision adds nothing; one function says what holds for a day's batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelguard import decisions
from modelguard.storage import Lake

DAY = "2026-09-05"
INGEST, MONITOR = "modelguard_ingest", "modelguard_monitor"


def _lines(lake: Lake) -> list[tuple]:
    return [(e["dag_id"], e["action"], e.get("kind"), e.get("alert")) for e in decisions.read_decisions(lake)]


@pytest.mark.parametrize(("first", "second"), [
    # feature drift and an output anomaly on the same day are two alerts
    ({"dag_id": MONITOR, "action": "drift_alert", "alert": "feature_drift", "model_version": "1"},
     {"dag_id": MONITOR, "action": "drift_alert", "alert": "output_anomaly", "model_version": "1"}),
    # a refused label file does not hide the batch's own quarantine
    ({"dag_id": INGEST, "action": "quarantine_batch"},
     {"dag_id": INGEST, "action": "quarantine_batch", "kind": "labels"}),
    # promotions to two different versions
    ({"dag_id": "modelguard_promote", "action": "promote", "model_version": "3"},
     {"dag_id": "modelguard_promote", "action": "promote", "model_version": "4"}),
    # the day's batch and a label file of that day, both accepted
    ({"dag_id": INGEST, "action": "accept_batch"},
     {"dag_id": INGEST, "action": "accept_batch", "kind": "labels"}),
])
def test_two_different_decisions_of_a_day_keep_two_lines_and_reruns_add_none(tmp_path: Path, first, second) -> None:
    lake = Lake(tmp_path)
    for _ in range(2):  # the day, then its rerun
        decisions.record(lake, batch_id=DAY, reason="first", **first)
        decisions.record(lake, batch_id=DAY, reason="second", **second)
    assert [e["reason"] for e in decisions.read_decisions(lake)] == ["first", "second"]


def test_a_verdict_that_changes_on_rerun_is_a_new_line_and_the_latest_holds(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    assert decisions.batch_status(lake, DAY) == "unknown"
    for action, status in (("accept_batch", "accepted"), ("quarantine_batch", "quarantined"),
                           ("accept_batch", "accepted"), ("accept_batch", "accepted")):
        decisions.record(lake, batch_id=DAY, dag_id=INGEST, action=action, reason=action)
        assert decisions.batch_status(lake, DAY) == status
    # nothing erased: accepted, quarantined, accepted again (the last rerun agreed and added nothing)
    assert [a for _, a, _, _ in _lines(lake)] == ["accept_batch", "quarantine_batch", "accept_batch"]
    decisions.record(lake, batch_id=DAY, dag_id="modelguard_release", action="accept_batch", reason="released")
    assert decisions.batch_status(lake, DAY) == "released"
    # label files never decide the batch's status
    decisions.record(lake, batch_id=DAY, dag_id=INGEST, action="quarantine_batch", kind="labels", reason="labels")
    assert decisions.batch_status(lake, DAY) == "released"


def test_status_of_a_day_without_lines_comes_from_the_files(tmp_path: Path) -> None:
    import pandas as pd

    lake = Lake(tmp_path)
    lake.write_parquet(pd.DataFrame({"a": [1]}), lake.validated("batches", DAY))
    assert decisions.batch_status(lake, DAY) == "accepted"


def test_corrected_labels_are_measured_again(tmp_path: Path) -> None:
    import pandas as pd

    from modelguard.config import load_config
    from modelguard.performance import health_history, measure_performance
    from tests.conftest import write_config

    config = load_config(write_config(tmp_path, model={**_fraud_model(), "segments": []}))
    lake = Lake(config.storage_root)
    ids = [f"t{i}" for i in range(40)]
    truth = [i % 2 for i in range(40)]
    lake.write_parquet(pd.DataFrame({"transaction_id": ids, "score_champion": [0.9 if t else 0.1 for t in truth],
                                     "version_champion": "1", "prediction": truth}), lake.predictions(DAY))

    def labels_land(target: list[int], sha: str) -> None:
        lake.write_parquet(pd.DataFrame({"transaction_id": ids, "is_fraud": target}), lake.validated("labels", DAY))
        decisions.record(lake, batch_id=DAY, dag_id=INGEST, action="accept_batch", kind="labels", reason="labels",
                         file_sha256=sha)

    def roc_auc() -> float:
        rows = health_history(config)
        return float(rows[(rows["metric"] == "roc_auc") & (rows["segment"] == "all")]["value"].iloc[0])

    labels_land(truth, "first")
    assert measure_performance(config, DAY)["newly_measured"] == [DAY] and roc_auc() == 1.0
    assert measure_performance(config, DAY)["newly_measured"] == []  # measured once per label file
    labels_land([1 - t for t in truth], "corrected")  # the labelling team fixed the day's labels
    assert measure_performance(config, DAY)["newly_measured"] == [DAY] and roc_auc() == 0.0
    assert len(health_history(config)) == len(health_history(config).drop_duplicates(["batch_id", "alias",
                                                                                        "segment", "metric"]))


def _fraud_model() -> dict:
    from tests.conftest import FRAUD_MODEL

    return dict(FRAUD_MODEL)

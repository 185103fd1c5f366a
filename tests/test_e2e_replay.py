"""End to end: a short simulated timeline replayed through the real DAGs (Airflow dag.test against a
temp SQLite metadata DB), with a real MLflow registry (temp SQLite store), GX and Evidently."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelguard import decisions
from modelguard.registry import CHALLENGER, CHAMPION, Registry
from modelguard.report import status_report
from modelguard.storage import Lake
from tests.conftest import PROJECT, simulated_lake

pytestmark = pytest.mark.e2e

SHORT_TIMELINE = {
    "challenger": {"window_days": 4, "holdout_days": 1, "min_rows": 1000, "every_days": 30, "bootstrap_rounds": 200},
    "policy": {"performance_window_days": 1, "cooldown_days": 1},
    "validation": {"min_rows": 50},
}


def modelguard(*args: str, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "modelguard.cli", *args], env=env, capture_output=True, text=True,
                          cwd=PROJECT, timeout=900)
    assert done.returncode == 0, f"modelguard {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    config, env = simulated_lake(tmp_path_factory.mktemp("e2e"), 12, ["null_storm@2", "concept_drift@4"],
                                 **SHORT_TIMELINE)
    replay = modelguard("replay", "--all", env=env)
    return config, Lake(config.storage_root), env, replay


def test_the_null_storm_is_quarantined_and_never_scored(replayed) -> None:
    config, lake, _, _ = replayed
    entries = decisions.for_batch(lake, "2026-09-03")
    assert [e["action"] for e in entries if e["dag_id"] == "modelguard_ingest" and e.get("kind") != "labels"] \
        == ["quarantine_batch"]
    assert "customer_age" in json.loads((lake.quarantine_dir("2026-09-03") / "reason.json").read_text())["reason"]
    assert not lake.predictions("2026-09-03").exists()
    accepted = [e["batch_id"] for e in decisions.read_decisions(lake) if e["action"] == "accept_batch" and e.get("kind") != "labels"]
    assert len(accepted) == 11 and "2026-09-03" not in accepted


def test_every_accepted_day_has_predictions_and_an_evidently_report(replayed) -> None:
    config, lake, _, _ = replayed
    for batch_id in ("2026-09-01", "2026-09-06", "2026-09-12"):
        assert lake.predictions(batch_id).exists()
        assert "Drifted Columns" in (lake.report_dir(batch_id) / "drift.html").read_text()
        verdicts = json.loads((lake.report_dir(batch_id) / "drift.json").read_text())["columns"]
        assert set(verdicts) == {*config.model.features.all, "score"}
        assert json.loads((lake.report_dir(batch_id) / "assessment.json").read_text())["actions"]


def test_each_day_has_a_root_cause_checklist_and_a_health_history(replayed) -> None:
    import pandas as pd

    _, lake, _, _ = replayed
    quarantined = json.loads((lake.report_dir("2026-09-03") / "checklist.json").read_text())
    assert quarantined["recommended_response"] == "quarantine"
    assert "| Verify data inputs | Missing values | Fail |" in (lake.report_dir("2026-09-03") / "checklist.md").read_text()
    health = pd.read_parquet(lake.health_table)
    estimated = health[health["metric"] == "estimated_roc_auc"]
    assert len(estimated) == 11 and estimated["value"].between(0.5, 1).all()
    assert set(health[health["metric"] == "realized_roc_auc"]["batch_id"]) >= {"2026-09-06", "2026-09-12"}


def test_concept_drift_raises_a_performance_alert(replayed) -> None:
    _, lake, _, _ = replayed
    alerts = [e["batch_id"] for e in decisions.read_decisions(lake) if e["action"] == "performance_alert"]
    assert alerts and min(alerts) >= "2026-09-08"  # drift on 09-05, labels three days late


def test_a_challenger_is_registered_and_waits_for_approval(replayed) -> None:
    config, lake, _, _ = replayed
    registry = Registry(config)
    aliases = registry.aliases()
    assert aliases[CHAMPION] == "1"
    challenger = registry.get(aliases[CHALLENGER])
    assert challenger.approval == "pending"
    assert challenger.tags["trigger"] == "performance" and challenger.tags["comparison"] == "passed"
    # trained only on accepted days: the quarantined 09-03 is not in any training window's data
    log = decisions.read_decisions(lake)
    requested = [e for e in log if e["action"] == "request_approval"]
    assert [e["model_version"] for e in requested][-1] == challenger.version
    assert any(e["action"] == "register_challenger" for e in log)


def test_rerunning_a_day_changes_nothing(replayed) -> None:
    config, lake, env, _ = replayed
    before_log = decisions.read_decisions(lake)
    before_versions = [v.version for v in Registry(config).versions()]
    day = next(e["batch_id"] for e in before_log if e["action"] == "request_approval")
    modelguard("replay", "--start", day, "--end", day, env=env)
    after_log = decisions.read_decisions(lake)
    assert [(e["batch_id"], e["action"], e["model_version"]) for e in after_log] == \
        [(e["batch_id"], e["action"], e["model_version"]) for e in before_log] or \
        sorted((e["batch_id"], e["action"], e["model_version"]) for e in after_log) == \
        sorted((e["batch_id"], e["action"], e["model_version"]) for e in before_log)
    assert [v.version for v in Registry(config).versions()] == before_versions


def test_runs_are_recorded_in_the_airflow_metadata_db(replayed) -> None:
    _, _, env, _ = replayed
    import sqlite3

    db = sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")
    runs = dict(db.execute("select dag_id, count(*) from dag_run where state='success' group by dag_id").fetchall())
    assert runs["modelguard_ingest"] >= 12 and runs["modelguard_monitor"] >= 12


def test_status_names_the_pending_approval(replayed) -> None:
    from rich.console import Console

    config, _, _, _ = replayed
    console = Console(width=200, record=True)
    console.print(status_report(config))
    out = console.export_text()
    assert "pending approvals: v" in out and "champion" in out
    assert "open incidents: quarantined batches 2026-09-03;" in out  # the one day batch_status says is quarantined

"""The production topology, natively (tests/live_stack.py: Postgres, Redis, MLflow with basic auth, Airflow's
api-server, scheduler, dag-processor, triggerer and two Celery workers, settings from docker/airflow.env):
one day goes through ingest -> score -> monitor under the real scheduler, the asset wiring and Celery."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from modelguard import decisions
from modelguard.storage import Lake
from tests.conftest import simulated_lake
from tests.live_stack import LiveStack

pytestmark = pytest.mark.e2e
DAGS = ("modelguard_ingest", "modelguard_score", "modelguard_monitor")


def test_one_day_through_scheduler_assets_and_celery(tmp_path, monkeypatch) -> None:
    started = time.monotonic()
    stack = LiveStack(tmp_path / "stack", config_file=tmp_path / "pipeline.yaml")
    try:
        stack.start_backends()  # the first champion is registered through the MLflow server
        for key, value in stack.mlflow_env().items():
            monkeypatch.setenv(key, value)
        config, _ = simulated_lake(tmp_path, days=3, incidents=[], rows=1500,
                                   mlflow={"tracking_uri": stack.mlflow_uri})
        stack.start_airflow()  # the DAG files read the pipeline config when parsed: it exists now
        booted = time.monotonic()
        stack.wait_dag_parsed(DAGS, timeout=120)
        day = sorted(path.name.split(".")[0] for path in (config.storage_root / "landing" / "batches").iterdir())[0]
        # run_after: the end of the day, so it goes before the scheduled run unpausing creates (max_active_runs=1)
        day_end = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat() + "T00:00:00Z"
        triggered = time.monotonic()
        run_id = stack.trigger("modelguard_ingest", conf={"batch_id": day}, run_after=day_end)
        for dag_id in DAGS:
            stack.unpause(dag_id)

        ingest = stack.wait_run("modelguard_ingest", run_id, timeout=240)
        assert ingest["state"] == "success", (stack.task_instances("modelguard_ingest", run_id), stack.logs_tail())
        for dag_id in DAGS[1:]:  # asset-triggered: score by ingest's event, monitor by score's
            run = stack.wait_for_run(dag_id, timeout=180, where=lambda r: r["run_type"] == "asset_triggered")
            done = stack.wait_run(dag_id, run["dag_run_id"], timeout=240)
            assert done["state"] == "success", (stack.task_instances(dag_id, run["dag_run_id"]), stack.logs_tail())
        finished = time.monotonic()

        lake = Lake(config.storage_root)
        assert (config.storage_root / "predictions" / f"{day}.parquet").exists()
        accepted = [e for e in decisions.read_decisions(lake) if e["action"] == "accept_batch"]
        assert [e["batch_id"] for e in accepted] == [day]
        print(f"\nlive stack: boot {booted - started:.0f} s (with the lake), trigger -> monitor success "
              f"{finished - triggered:.0f} s (cold), total {finished - started:.0f} s")
    finally:
        stack.stop()
    assert stack.running() == []

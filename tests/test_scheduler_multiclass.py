"""A multiclass model under Airflow's scheduler, not dag.test: docker-compose's topology run natively
(tests/live_stack.py: Postgres, Redis, MLflow with basic auth, api-server, scheduler, dag-processor, triggerer,
two Celery workers whose task processes start from the preloaded libraries).

The stream (tests/streams.py) is unlike the demo's: three grades, CSV batches, zoned timestamps, integer-coded
and boolean categories, and no `model.classes` in the config (init takes them from the reference). The test
does only what the outside world does: files and labels land, an operator triggers each day's ingest through
the REST API (as from the UI), a person approves in MLflow. The scheduler starts score, monitor, challenge and
promote from their asset events, and promote from the registry watcher once the person has approved.
"""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest
import yaml

from modelguard import decisions
from modelguard.config import load_config
from modelguard.registry import CHAMPION, Registry
from modelguard.simulate import deliver_labels
from modelguard.storage import Lake
from tests.live_stack import LiveStack, one_stack_at_a_time
from tests.streams import stream_lake
from tests.test_e2e_replay import SHORT_TIMELINE

pytestmark = pytest.mark.e2e

DAYS = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04"]
INCIDENT = "2026-09-02"  # region codes recoded: quarantined
DRIFT_LABELLED = "2026-09-04"  # the first drifted day (09-03) has its labels on 09-04
CYCLE = ("modelguard_ingest", "modelguard_score", "modelguard_monitor", "modelguard_challenge",
         "modelguard_promote", "modelguard_rollback")
ACTIVE = ("queued", "running")


def _settle(stack: LiveStack, since: float, timeout: float = 300, require_monitor: bool = True) -> None:
    """Wait until the scheduler has run the day through monitor (if `require_monitor`) and started nothing
    more for a while."""
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        runs = {d: [r for r in stack.runs(d) if _stamp(r["run_after"]) >= since] for d in CYCLE}
        busy = any(r["state"] in ACTIVE for rs in runs.values() for r in rs)
        monitored = not require_monitor or any(r["state"] == "success" for r in runs["modelguard_monitor"])
        if busy or not monitored:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 12:  # asset events are turned into runs within a scheduler loop
            return
        time.sleep(2)
    raise AssertionError(f"the day did not settle in {timeout} s\n{stack.logs_tail(['scheduler'])}")


def _stamp(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scheduler-multiclass")
    with one_stack_at_a_time():
        stack = LiveStack(folder / "stack", config_file=folder / "pipeline.yaml")
        monkeypatch = pytest.MonkeyPatch()
        try:
            seen = _run(stack, folder, monkeypatch)
        except BaseException:
            print(stack.logs_tail())
            raise
        finally:
            stack.stop()
            monkeypatch.undo()
    assert stack.running() == []
    config = load_config(folder / "pipeline.yaml")
    return config, Lake(config.storage_root), seen


def _run(stack: LiveStack, folder, monkeypatch) -> dict:
    """Four days under the scheduler and a person's approval; what the tests read, taken before the stack stops."""
    seen: dict = {}
    stack.start_backends()
    for key, value in stack.mlflow_env().items():  # init registers the first champion through the server
        monkeypatch.setenv(key, value)
    # No scheduled run: the batch clock stands an hour before a day two days after the landed ones, so
    # every landed day is complete and only the operator's runs (and what they trigger) happen.
    schedule = {"approval_poll": "10s", "rehearsal": {
        "day_length": "1d", "first_day": "2026-09-06",
        "start": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()}}
    config, _ = stream_lake(folder, "multiclass", len(DAYS), drift_day=2, incident_day=1, label_delay_days=1,
                            sections={**SHORT_TIMELINE, "mlflow": {"tracking_uri": stack.mlflow_uri},
                                      "approval": {"approvers": ["alice"]},
                                      "schedule": schedule})
    assert "classes" not in yaml.safe_load((folder / "pipeline.yaml").read_text())["model"]
    lake = Lake(config.storage_root)
    stack.start_airflow()
    stack.wait_dag_parsed(CYCLE, timeout=180)
    for dag_id in CYCLE:
        stack.unpause(dag_id)
    for day in DAYS:
        deliver_labels(config.storage_root, day)
        clicked = time.time()
        run_id = stack.trigger("modelguard_ingest", conf={"batch_id": day})
        assert stack.wait_run("modelguard_ingest", run_id, timeout=300)["state"] == "success"
        _settle(stack, clicked)
    requested = [e for e in decisions.read_decisions(lake) if e["action"] == "request_approval"]
    seen["requested"] = requested
    if requested:  # a person approves in the MLflow UI; the registry watcher starts promote
        approved_at = time.time()
        stack.add_person("alice", config.model.name)  # in approval.approvers: the server lets her approve
        status, body = stack.set_version_tag(config.model.name, requested[-1]["model_version"], "approval",
                                             "approved", user="alice")
        assert status == 200, body
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not [e for e in decisions.read_decisions(lake)
                                                  if e["action"] == "promote"]:
            time.sleep(3)
        seen["promote_seconds"] = round(time.time() - approved_at)
        _settle(stack, approved_at - 1, require_monitor=False)
    seen["runs"] = {d: stack.runs(d) for d in CYCLE}
    seen["champion"] = Registry(config).aliases().get(CHAMPION)
    return seen


def test_every_run_the_scheduler_started_succeeded_and_chained_by_assets(scheduled) -> None:
    _, _, seen = scheduled
    runs = [r for rs in seen["runs"].values() for r in rs]
    assert runs and all(r["state"] == "success" for r in runs), [(r["dag_id"], r["state"]) for r in runs]
    # the test triggered ingest only: the scheduler started the rest
    for dag_id in ("modelguard_score", "modelguard_monitor", "modelguard_challenge"):
        assert seen["runs"][dag_id] and {r["run_type"] for r in seen["runs"][dag_id]} == {"asset_triggered"}, dag_id


def test_the_classes_come_from_the_reference_and_each_is_scored(scheduled) -> None:
    config, lake, _ = scheduled
    assert config.model.classes == [0, 1, 2]
    served = pd.read_parquet(lake.predictions("2026-09-01"))
    assert {f"score_champion__{c}" for c in (0, 1, 2)} <= set(served.columns)
    assert set(served["prediction"]) <= {0, 1, 2}


def test_the_recoded_batch_is_quarantined_under_the_scheduler(scheduled) -> None:
    _, lake, _ = scheduled
    assert decisions.batch_status(lake, INCIDENT) == "quarantined"
    assert not lake.predictions(INCIDENT).exists()


def test_concept_drift_alerts_then_a_person_approves_and_the_watcher_promotes(scheduled) -> None:
    _, lake, seen = scheduled
    log = decisions.read_decisions(lake)
    alerts = [e for e in log if e["action"] == "performance_alert"]
    assert alerts and alerts[0]["batch_id"] == DRIFT_LABELLED
    assert not [e for e in log if e["action"] in ("performance_alert", "drift_alert", "request_approval")
                and e["batch_id"] < DRIFT_LABELLED]  # the days before stay quiet
    assert seen["requested"], "no approval was requested"
    promoted = [e for e in log if e["action"] == "promote"]
    assert promoted and promoted[-1]["model_version"] == seen["requested"][-1]["model_version"]
    assert seen["champion"] == seen["requested"][-1]["model_version"]
    assert {r["run_type"] for r in seen["runs"]["modelguard_promote"]} <= {"asset_triggered"}
    print(f"\npromoted {seen['promote_seconds']} s after the approval")

"""Issue 20, "A Param can delete lake files": a `batch_id` Param that is no day, or a day after today, is refused
before anything is touched, at every door (Airflow's REST API, `dag.test` with conf, the Lake itself), and
every lake file is byte-identical afterwards.

On the old code `modelguard_score` with `batch_id=../reference/train` found no validated batch and deleted
`predictions/../reference/train.parquet`: the reference data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelguard.config import ScheduleConfig
from modelguard.storage import Lake
from tests.conftest import PROJECT, simulated_lake

FIRST_DAY = "2026-09-01"
DAG_IDS = ("modelguard_ingest", "modelguard_score", "modelguard_monitor", "modelguard_challenge",
           "modelguard_promote", "modelguard_rollback", "modelguard_release")
NOT_A_DAY = ("../reference/train", "2026-13-45", "/etc/passwd")  # refused by the Param's JSON schema
FUTURE = "2099-01-01"  # a date: refused by the run's first task, before it touches anything
HOSTILE = (*NOT_A_DAY, FUTURE)


def lake_files(root: Path) -> dict[str, str]:
    """Every file under the lake root (the decisions log, the reference, validated data, predictions...) by hash."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A small lake with its first champion, the first day ingested and scored through the real DAGs (so
    `predictions/` exists: the folder a `../` climbs out of), and the DAGs loaded."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from modelguard.replay import ensure_metadata_db

    folder = tmp_path_factory.mktemp("hostile")
    config, env = simulated_lake(folder, 2, [], rows=300, validation={"min_rows": 50})
    previous = os.environ.get("MODELGUARD_CONFIG")
    os.environ["MODELGUARD_CONFIG"] = env["MODELGUARD_CONFIG"]  # what the tasks load
    try:
        ensure_metadata_db(Path(os.environ["AIRFLOW_HOME"]))
        bag = DagBag(dag_folder=str(PROJECT / "dags"))
        assert not bag.import_errors
        for dag in bag.dags.values():  # a refused run fails at once, as under `modelguard replay`
            for task in dag.tasks:
                task.retries = 0
        for dag_id in ("modelguard_ingest", "modelguard_score"):
            run = bag.dags[dag_id].test(logical_date=pendulum.parse(FIRST_DAY), run_conf={"batch_id": FIRST_DAY})
            assert str(getattr(run.state, "value", run.state)) == "success", dag_id
        lake = Lake(config.storage_root)
        assert lake.predictions(FIRST_DAY).exists() and lake.reference_train.exists()
        yield SimpleNamespace(config=config, lake=lake, dags=bag.dags, bag=bag)
    finally:
        if previous is None:
            os.environ.pop("MODELGUARD_CONFIG", None)
        else:
            os.environ["MODELGUARD_CONFIG"] = previous


def _task_states(run) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()}


# --- dag.test with conf, the way `modelguard replay` and the tests drive the DAGs ------------------------------
def test_score_with_a_path_for_batch_id_keeps_the_reference(pipeline) -> None:
    """The reproduced bug: on the old code this run succeeded and deleted reference/train.parquet."""
    from airflow.exceptions import ParamValidationError

    reference = pipeline.lake.reference_train.read_bytes()
    try:
        pipeline.dags["modelguard_score"].test(run_conf={"batch_id": "../reference/train"})
        refusal = None
    except ParamValidationError as error:
        refusal = str(error)
    assert pipeline.lake.reference_train.exists(), "the run deleted reference/train.parquet"
    assert pipeline.lake.reference_train.read_bytes() == reference
    assert refusal and "batch_id" in refusal and "../reference/train" in refusal, refusal


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_a_hostile_batch_id_is_refused_and_every_lake_file_stays(pipeline, dag_id: str, bad: str, capfd) -> None:
    from airflow.exceptions import ParamValidationError

    before = lake_files(pipeline.lake.root)
    assert "decisions.jsonl" in before and "reference/train.parquet" in before
    dag = pipeline.dags[dag_id]
    if bad in NOT_A_DAY:
        with pytest.raises(ParamValidationError, match="batch_id") as refused:
            dag.test(run_conf={"batch_id": bad})
        assert "is not a 'date'" in str(refused.value) or "does not match" in str(refused.value)
    else:
        run = dag.test(run_conf={"batch_id": bad})
        assert str(getattr(run.state, "value", run.state)) == "failed"
        states = _task_states(run)  # the first task refused the day: nothing ran after it
        assert "failed" in states.values() and "success" not in states.values(), states
        assert f"Param batch_id {FUTURE} is after today" in capfd.readouterr().out
    assert lake_files(pipeline.lake.root) == before


# --- Airflow's REST API: a real `airflow api-server` on this metadata DB --------------------------------------
@pytest.fixture(scope="module")
def api(pipeline, tmp_path_factory):
    """`airflow api-server` (one worker, SimpleAuthManager) on a free loopback port, on the metadata DB where
    dag.test wrote the DAGs; yields a function calling the REST API with a JWT from POST /auth/token."""
    from tests.live_stack import free_port

    folder = tmp_path_factory.mktemp("api")
    port, password = free_port(), secrets.token_urlsafe(16)
    passwords = folder / "passwords.json"
    passwords.write_text(json.dumps({"admin": password}))
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AIRFLOW__CORE__AUTH_MANAGER":
           "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
           "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32), "AIRFLOW__API__BASE_URL": url}
    log = (folder / "api-server.log").open("wb")
    server = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "api-server", "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("api-server did not start:\n"
                                         + (folder / "api-server.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        request = urllib.request.Request(f"{url}/auth/token", method="POST", headers={
            "Content-Type": "application/json"}, data=json.dumps({"username": "admin", "password": password}).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            token = json.load(response)["access_token"]

        def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
            request = urllib.request.Request(f"{url}{path}", method=method, data=None if body is None else
                                             json.dumps(body).encode(), headers={
                                                 "Authorization": f"Bearer {token}",
                                                 "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, json.load(response)
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read() or b"{}")

        yield call
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the api-server and the worker it started, nothing else
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


def test_the_rest_api_refuses_a_batch_id_that_is_no_day(pipeline, api) -> None:
    before = lake_files(pipeline.lake.root)
    for dag_id in DAG_IDS:
        status, runs = api("GET", f"/api/v2/dags/{dag_id}/dagRuns")
        assert status == 200, runs
        existing = runs["total_entries"]
        for bad in NOT_A_DAY:
            extra = {"labels": False} if dag_id == "modelguard_release" else {}
            status, body = api("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                               {"logical_date": None, "conf": {"batch_id": bad, **extra}})
            assert status == 400, (dag_id, bad, status, body)
            assert "batch_id" in str(body["detail"]) and bad in str(body["detail"]), body
        assert api("GET", f"/api/v2/dags/{dag_id}/dagRuns")[1]["total_entries"] == existing, dag_id  # no run
    # a day passes the schema: the run is created, and its first task refuses it if it is after today
    status, body = api("POST", "/api/v2/dags/modelguard_score/dagRuns",
                       {"logical_date": None, "conf": {"batch_id": FIRST_DAY}})
    assert status == 200, body
    assert lake_files(pipeline.lake.root) == before


# --- unit: the guard where paths are made, and the future-day refusal -------------------------------------------
@pytest.mark.parametrize("bad", ["../reference/train", "/etc/passwd", "2026-13-45", "20261001", "2026-W40-1",
                                 "2026-9-1", "2026-09-01/../../x", "", None, 20260901])
def test_the_lake_builds_no_path_from_an_id_that_is_not_a_day(tmp_path: Path, bad) -> None:
    lake = Lake(tmp_path)
    for make in (lambda: lake.landing("batches", bad), lambda: lake.validated("labels", bad),
                 lambda: lake.quarantine_dir(bad), lambda: lake.quarantine_dir(bad, "labels"),
                 lambda: lake.predictions(bad), lambda: lake.report_dir(bad)):
        with pytest.raises(ValueError, match=r"batch_id must be a date YYYY-MM-DD, got ") as refused:
            make()
        assert repr(bad) in str(refused.value)
    assert lake.predictions("2026-09-01") == tmp_path / "predictions" / "2026-09-01.parquet"
    assert lake.quarantine_dir("2026-09-01", "labels") == tmp_path / "quarantine" / "labels" / "2026-09-01"


def test_lake_listings_hold_only_days(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    for name in ("2026-09-01.parquet", "notes.parquet", "2026-9-2.csv", "20260903.parquet"):
        (lake.root / "landing" / "batches").mkdir(parents=True, exist_ok=True)
        (lake.root / "landing" / "batches" / name).write_bytes(b"")
    assert lake.landed_ids("batches") == ["2026-09-01"]


UTC = ScheduleConfig()
TOKYO = ScheduleConfig(timezone="Asia/Tokyo")


@pytest.mark.parametrize(("value", "now", "schedule", "refused"), [
    pytest.param("2026-12-04", "2026-12-04T10:00:00+00:00", UTC, None, id="today"),
    pytest.param("2026-11-01", "2026-12-04T10:00:00+00:00", UTC, None, id="a-past-day"),
    pytest.param("2026-12-05", "2026-12-04T23:59:00+00:00", UTC, "is after today (2026-12-04 in UTC)", id="tomorrow"),
    # 23:30 UTC is already the next day in Tokyo: that day has begun there
    pytest.param("2026-12-05", "2026-12-04T23:30:00+00:00", TOKYO, None, id="tomorrow-utc-is-today-in-tokyo"),
    pytest.param("2026-12-05", "2026-12-04T10:00:00+00:00", TOKYO, "(2026-12-04 in Asia/Tokyo)", id="tokyo"),
    pytest.param("2099-01-01", "2026-12-04T10:00:00+00:00", UTC, "Param batch_id 2099-01-01 is after today",
                 id="far-future"),
    pytest.param("../x", "2026-12-04T10:00:00+00:00", UTC, "Param batch_id must be a date YYYY-MM-DD, got '../x'",
                 id="a-path"),
])
def test_a_requested_day_after_today_is_refused_with_a_sentence(value, now, schedule, refused) -> None:
    from modelguard.batch_days import requested_day

    moment = dt.datetime.fromisoformat(now)
    if refused is None:
        assert requested_day(value, moment, schedule) == value
    else:
        with pytest.raises(ValueError, match="nothing was done") as error:
            requested_day(value, moment, schedule)
        assert refused in str(error.value)


def test_only_the_param_is_held_to_today_not_events_or_intervals(monkeypatch) -> None:
    """A simulated timeline may lie anywhere on the calendar: days from asset events and data intervals pass;
    a replay's own day is its today."""
    from modelguard import dag_support
    from modelguard.batch_days import REPLAY_DAY_ENV

    now = dt.datetime(2026, 12, 4, 10, tzinfo=dt.UTC)
    run = SimpleNamespace(run_type="manual")
    with pytest.raises(ValueError, match="Param batch_id 2027-03-01 is after today"):
        dag_support.batch_ids_from({"params": {"batch_id": "2027-03-01"}, "dag_run": run}, now=now)
    with pytest.raises(ValueError, match="Param batch_id 2027-03-01 is after today"):
        dag_support.batch_id_from({"params": {"batch_id": "2027-03-01"}, "dag_run": run}, now=now)
    events = {"asset": [SimpleNamespace(extra={"batch_ids": ["2027-03-01"]})]}
    assert dag_support.batch_ids_from({"params": {}, "dag_run": SimpleNamespace(run_type="asset_triggered"),
                                       "triggering_asset_events": events}, now=now) == ["2027-03-01"]
    interval = {"params": {}, "dag_run": SimpleNamespace(run_type="scheduled"),
                "data_interval_start": dt.datetime(2027, 3, 1, tzinfo=dt.UTC)}
    assert dag_support.batch_id_from(interval, now=now) == "2027-03-01"
    monkeypatch.setenv(REPLAY_DAY_ENV, "2027-03-01")
    assert dag_support.batch_ids_from({"params": {"batch_id": "2027-03-01"}, "dag_run": run}) == ["2027-03-01"]
    with pytest.raises(ValueError, match=r"2027-03-02 is after today \(2027-03-01 in the replay\)"):
        dag_support.batch_ids_from({"params": {"batch_id": "2027-03-02"}, "dag_run": run})


def test_the_cli_refuses_a_release_day_that_is_no_day(pipeline) -> None:
    before = lake_files(pipeline.lake.root)
    for day in ("2026-13-45", "../reference/train"):
        done = subprocess.run([sys.executable, "-m", "modelguard.cli", "release", day], capture_output=True,
                              text=True, timeout=120, cwd=PROJECT,
                              env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 2, done.stdout + done.stderr
        assert "release DAY" in done.stdout and day in done.stdout, done.stdout
    assert lake_files(pipeline.lake.root) == before

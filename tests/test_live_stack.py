"""The product as deployed: docker-compose's production topology, natively (tests/live_stack.py: Postgres,
Redis, MLflow with basic auth, Airflow's api-server, scheduler, dag-processor, triggerer and two Celery
workers, settings from docker/airflow.env), and the scheduler deciding what runs.

Ten simulated days: a concept drift from 09-05 (labels three days late) and a null storm on 09-10. The
first seven are history, replayed (`modelguard replay`) against the same MLflow server. Then the config
compresses time (`schedule.rehearsal`: one batch day = DAY seconds) and the last three days pass while
the stack runs. The test only does what the outside world does: batch files and labels land, a person
approves in MLflow through its REST API, an operator triggers and backfills through Airflow's REST API,
a worker crashes, the MLflow server restarts. Everything else is the scheduler's doing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from modelguard import decisions
from modelguard.batch_days import day_of_interval, latest_complete_day
from modelguard.config import load_config
from modelguard.registry import CHAMPION, Registry
from modelguard.simulate import deliver_labels
from modelguard.storage import Lake
from tests.conftest import cli_env, simulated_lake
from tests.live_stack import LiveStack, one_stack_at_a_time

pytestmark = pytest.mark.e2e

DAY = 90  # wall-clock seconds per batch day
HISTORY = [f"2026-09-0{d}" for d in range(1, 8)]
LIVE = ["2026-09-08", "2026-09-09", "2026-09-10"]
DAGS = ("modelguard_ingest", "modelguard_score", "modelguard_monitor", "modelguard_challenge",
        "modelguard_promote", "modelguard_rollback", "modelguard_release")
WORK_TASKS = ("drift_report", "measure_performance", "assess")  # the monitor tasks a crash is injected into
TIMELINE = {
    "challenger": {"window_days": 4, "holdout_days": 1, "min_rows": 1000, "every_days": 30, "bootstrap_rounds": 200},
    "policy": {"performance_window_days": 1, "cooldown_days": 1},
    "validation": {"min_rows": 50},
    "approval": {"approvers": ["alice"]},  # enforced by the registry server (--app-name modelguard)
}
# batch time: 8 h of grace after midnight = DAY / 3 wall seconds; a poke every 10 min (5 s, the floor)
SCHEDULE = {"batch_deadline": "8h", "poke_interval": "10m", "approval_poll": "10s"}


def _identities(lake: Lake) -> list[tuple]:
    return [tuple(e.get(f) for f in decisions.IDENTITY) for e in decisions.read_decisions(lake)]


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


class Scenario:
    """Runs the timeline once and keeps what it saw; the tests below read it."""

    def __init__(self, folder: Path, monkeypatch) -> None:
        self.folder = folder
        self.stack = LiveStack(folder / "stack", config_file=folder / "live.yaml")
        self.seen: dict = {"figures": {}}
        self.monkeypatch = monkeypatch

    def run(self) -> None:
        started = time.monotonic()
        stack, figures = self.stack, self.seen["figures"]
        stack.start_backends()  # the first champion is registered through the MLflow server
        for key, value in stack.mlflow_env().items():
            self.monkeypatch.setenv(key, value)
        config, _ = simulated_lake(self.folder, 10, ["concept_drift@4", "null_storm@9"],
                                   mlflow={"tracking_uri": stack.mlflow_uri}, **TIMELINE)
        self.config, self.lake = config, Lake(config.storage_root)
        stack.add_person("alice", config.model.name)  # an approver
        stack.add_person("bob", config.model.name)  # EDIT on the model, not an approver
        held = self.folder / "held"  # the live days' files land later, when their day has ended
        held.mkdir()
        for day in LIVE:
            shutil.move(self.lake.root / "landing" / "batches" / f"{day}.parquet", held / f"{day}.parquet")

        # History: replayed while Airflow boots (its own SQLite metadata DB; the same lake and registry).
        replay_env = cli_env(self.folder / "pipeline.yaml", self.folder / "replay-airflow")
        replay = _popen_replay(replay_env, self.folder / "replay.log")
        # The live config: batch day 09-08 begins at t0; every later day DAY seconds after the one before.
        self.t0 = time.time() + 240  # boot and the history replay run side by side: ~165-225 s on a busy CI machine
        live = yaml.safe_load((self.folder / "pipeline.yaml").read_text())
        live["schedule"] = {**SCHEDULE, "rehearsal": {
            "day_length": f"{DAY}s", "first_day": LIVE[0],
            "start": dt.datetime.fromtimestamp(self.t0, dt.UTC).isoformat()}}
        (self.folder / "live.yaml").write_text(yaml.safe_dump(live, sort_keys=False))
        self.live_config = load_config(self.folder / "live.yaml")
        stack.start_airflow()
        stack.wait_dag_parsed(DAGS, timeout=120)
        figures["boot_seconds"] = round(time.monotonic() - started)
        assert replay.wait(timeout=600) == 0, (self.folder / "replay.log").read_text()[-3000:]
        figures["history_ready_seconds"] = round(time.monotonic() - started)
        assert time.time() < self.t0 - 10, "boot + history replay overran the live days' start"
        for dag_id in DAGS:
            stack.unpause(dag_id)

        self._manual_runs()
        self._live_days()
        self._late_batch_backfill()
        self._quiesce()
        # a forced promotion needs Airflow's permission to trigger the DAG: a Viewer's trigger is refused
        viewer = stack.add_airflow_user("viewer", "Viewer")
        runs_before = len(stack.runs("modelguard_promote"))
        self.seen["viewer_forced_promote"] = stack.api_as("viewer", viewer, "POST", "/api/v2/dags/modelguard_promote/"
                                                          "dagRuns", {"logical_date": None, "conf": {"force": True}})
        self.seen["promote_runs_added_by_viewer"] = len(stack.runs("modelguard_promote")) - runs_before
        figures["total_seconds"] = round(time.monotonic() - started)

    # --- an operator's manual runs, during day 09-08: with the Param, and without (the latest complete day) --
    def _manual_runs(self) -> None:
        stack = self.stack
        self.seen["log_before_manual"] = _identities(self.lake)
        _sleep_until(self.t0 + 1)  # before t0 the batch clock is still inside 09-07: its rows would be "future"
        clicked = time.time()
        with_param = stack.trigger("modelguard_ingest", conf={"batch_id": HISTORY[-2]})
        without = stack.trigger("modelguard_ingest")
        expected = latest_complete_day(dt.datetime.now(dt.UTC), self.live_config.schedule)
        for run_id in (with_param, without):
            assert stack.wait_run("modelguard_ingest", run_id, timeout=240)["state"] == "success", \
                stack.task_instances("modelguard_ingest", run_id)
        self.seen["manual_days"] = (stack.xcom("modelguard_ingest", with_param, "choose_day"),
                                    stack.xcom("modelguard_ingest", without, "choose_day"), expected)
        # downstream: asset-triggered score and monitor runs cover both days (one run each, or coalesced)
        covered = self._wait_monitored({HISTORY[-2], expected}, since=clicked, timeout=300)
        self.seen["figures"]["manual_trigger_to_monitor_done_cold"] = round(covered - clicked)
        self.seen["log_after_manual"] = _identities(self.lake)

    def _wait_monitored(self, days: set[str], since: float, timeout: float) -> float:
        """Wait until asset-triggered monitor runs started after `since` have assessed every day in `days`;
        returns when the last of those days was first assessed (a run's end)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            first_done: dict[str, float] = {}
            for run in self.stack.runs("modelguard_monitor"):
                if run["run_type"] != "asset_triggered" or run["state"] != "success" \
                        or _ts(run["run_after"]) < since - 1:
                    continue
                for day in self.stack.xcom("modelguard_monitor", run["dag_run_id"], "choose_days"):
                    first_done[day] = min(first_done.get(day, float("inf")), _ts(run["end_date"]))
            if days <= set(first_done):
                return max(first_done[day] for day in days)
            time.sleep(2)
        raise AssertionError(f"monitor did not assess {sorted(days)} within {timeout} s\n"
                             f"{self.stack.logs_tail(['scheduler'])}")

    # --- the live days: files land, labels arrive, a worker crashes, MLflow restarts, a person approves ---
    def _live_days(self) -> None:
        stack, seen, figures = self.stack, self.seen, self.seen["figures"]
        held = self.folder / "held"
        landed: dict[str, float] = {}
        faults = {"killed": False, "restarted": False}
        seen["fault_log"] = []  # what the fault injection saw, for a failure's message
        approved_at = None
        for index, day in enumerate(LIVE):
            start = self.t0 + index * DAY
            end = start + DAY
            # watched, not slept through: a challenger's run can start and end inside these seconds
            self._inject_faults_until(start + 0.6 * DAY, faults)
            deliver_labels(self.lake.root, day)
            if day == LIVE[-1]:
                continue  # 09-10's file lands only after its deadline (below)
            late = 20 if day == LIVE[1] else 0  # 09-09's file is late, but before the deadline
            self._inject_faults_until(end + late, faults)
            os.replace(held / f"{day}.parquet", self.lake.root / "landing" / "batches" / f"{day}.parquet")
            landed[day] = time.time()
        # until the 09-10 deadline: watch for the approval request and act on it as a person would
        deadline = self.t0 + 3 * DAY + DAY / 3 + 240
        while time.time() < deadline and (approved_at is None or seen.get("promoted_after") is None
                                          or not all(faults.values())):
            self._inject_faults_until(time.time(), faults)
            if approved_at is None:
                requested = [e for e in decisions.read_decisions(self.lake) if e["action"] == "request_approval"]
                if requested:
                    seen["requested"] = version = requested[-1]
                    name = self.config.model.name
                    # the pipeline's own account and a non-approver are refused by the registry server
                    seen["refused"] = {user: stack.set_version_tag(name, version["model_version"], "approval",
                                                                   "approved", user=user)
                                       for user in (stack.pipeline_user, "bob")}
                    seen["approved"] = stack.set_version_tag(name, version["model_version"], "approval",
                                                             "approved", user="alice", api="ajax-api")
                    approved_at = time.time()
            elif seen.get("promoted_after") is None and \
                    Registry(self.config).aliases().get(CHAMPION) == seen["requested"]["model_version"]:
                seen["promoted_after"] = time.time() - approved_at
                seen["promoted_tags"] = Registry(self.config).get(seen["requested"]["model_version"]).tags
            time.sleep(1)
        seen["killed"], seen["restarted"] = faults["killed"], faults["restarted"]
        figures["approval_to_champion_alias_seconds"] = round(seen.get("promoted_after") or -1, 1)
        for day in LIVE[:2]:
            figures[f"landing_to_monitor_done_{day}"] = round(self._wait_monitored({day}, landed[day], 300)
                                                               - landed[day])

    def _inject_faults_until(self, moment: float, faults: dict[str, bool]) -> None:
        """Until `moment` (at least once), restart MLflow while a challenger trains and crash a worker mid-task,
        each once, as soon as there is such a run. The restart is tried first: a challenge run lasts seconds
        (the workers have its libraries loaded) and a crash waits for the new worker."""
        while True:
            if not faults["restarted"]:
                faults["restarted"] = self._restart_mlflow_mid_challenge()
            if not faults["killed"]:
                faults["killed"] = self._crash_a_worker_mid_task()
            if time.time() >= moment:
                return
            time.sleep(0.5)

    def _crash_a_worker_mid_task(self) -> bool:
        """SIGKILL the worker running a monitor task (a crash, mid-task), then start a fresh one."""
        running = self.stack.worker_running("modelguard_monitor")
        # only a task doing the day's work: choose_days and the request_* gates end in an instant, and a gate
        # whose retry finds nothing to request is rightly skipped, not succeeded
        if running is None or running[1].get("task_id") not in WORK_TASKS:
            return False
        index, ti = running
        # The work tasks take about a second here: the worker's processes are stopped where they are, so the
        # task cannot finish between this look and the kill. Killed while still "queued" (its supervisor
        # starting), a task would wait for the scheduler's queued timeout, not its heartbeat's: not that one.
        self.stack.freeze_worker(index)
        state = self._task_instance(ti)["state"]
        self.seen["fault_log"].append(f"{ti['task_id']} of {ti['run_id']} on worker{index}: {state}")
        if state != "running":
            self.stack.freeze_worker(index, frozen=False)
            return False  # finished before the freeze, or not started yet: wait for the next one
        self.stack.kill_worker(index)
        self.stack.start_worker(index)
        self.seen["killed_ti"] = ti
        return True

    def _task_instance(self, ti: dict) -> dict:
        return next(t for t in self.stack.task_instances(ti["dag_id"], ti["run_id"]) if t["task_id"] == ti["task_id"])

    def _restart_mlflow_mid_challenge(self) -> bool:
        runs = [r for r in self.stack.runs("modelguard_challenge") if r["state"] == "running"]
        if not runs:
            return False
        self.seen["fault_log"].append(f"MLflow restarted during {runs[0]['dag_run_id']}")
        time.sleep(2)
        self.stack.restart_mlflow()
        self.seen["restarted_during"] = runs[0]["dag_run_id"]
        return True

    # --- 09-10: the file misses its deadline; the documented recovery is Airflow's backfill --------------
    def _late_batch_backfill(self) -> None:
        stack, day = self.stack, LIVE[-1]
        scheduled = stack.wait_for_run("modelguard_ingest", timeout=300, where=lambda r: r["run_type"] == "scheduled"
                                       and _ts(r["data_interval_start"]) >= self.t0 + 2 * DAY - 1)
        done = stack.wait_run("modelguard_ingest", scheduled["dag_run_id"], timeout=300)
        assert done["state"] == "success", stack.task_instances("modelguard_ingest", scheduled["dag_run_id"])
        self.seen["missing"] = [e for e in decisions.for_batch(self.lake, day) if e.get("alert") == "missing_batch"]
        os.replace(self.folder / "held" / f"{day}.parquet", self.lake.root / "landing" / "batches" / f"{day}.parquet")
        interval = scheduled["data_interval_start"]
        backfill = stack.backfill("modelguard_ingest", interval, interval, reprocess="completed")
        self.seen["backfill"] = backfill
        run = stack.wait_for_run("modelguard_ingest", timeout=180, where=lambda r: r["run_type"] == "backfill")
        assert stack.wait_run("modelguard_ingest", run["dag_run_id"], timeout=300)["state"] == "success"
        self.seen["backfill_runs"] = [r for r in stack.runs("modelguard_ingest") if r["run_type"] == "backfill"]
        self.seen["backfill_day"] = stack.xcom("modelguard_ingest", run["dag_run_id"], "choose_day")

    def _quiesce(self, timeout: float = 300) -> None:
        """Wait until no run of any DAG is queued or running (retries included)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            busy = [(d, r["dag_run_id"]) for d in DAGS for r in self.stack.runs(d)
                    if r["state"] in ("queued", "running")]
            if not busy:
                break
            time.sleep(2)
        self.seen["runs"] = {d: self.stack.runs(d) for d in DAGS}
        self.seen["ingest_days"] = [
            (run["run_type"], run["data_interval_start"], self.stack.xcom("modelguard_ingest", run["dag_run_id"],
                                                                          "choose_day"))
            for run in self.seen["runs"]["modelguard_ingest"]]
        self.seen["versions"] = [(v.version, dict(v.tags)) for v in Registry(self.config).versions()]
        killed = self.seen.get("killed_ti") or {}
        if killed:
            self.seen["killed_ti_after"] = self._task_instance(killed)


def _ts_datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ts(value: str | None) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else 0.0


def _popen_replay(env: dict, log: Path):
    import subprocess
    import sys

    handle = open(log, "wb")  # noqa: SIM115 - the child writes it until wait()
    return subprocess.Popen([sys.executable, "-m", "modelguard.cli", "replay", "--start", HISTORY[0], "--end",
                             HISTORY[-1]], env=env, stdout=handle, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    scenario = Scenario(tmp_path_factory.mktemp("live"), monkeypatch)
    with one_stack_at_a_time():
        try:
            scenario.run()
        except BaseException:
            print(scenario.stack.logs_tail())
            raise
        finally:
            scenario.stack.stop()
            monkeypatch.undo()
            print("\nlive-stack figures:", json.dumps(scenario.seen["figures"]))
            (scenario.folder / "figures.json").write_text(json.dumps(scenario.seen["figures"], indent=2))
    assert scenario.stack.running() == []
    return scenario


def test_every_run_the_scheduler_started_succeeded(live) -> None:
    failed = {d: [r["dag_run_id"] for r in runs if r["state"] != "success"] for d, runs in live.seen["runs"].items()}
    assert not any(failed.values()), failed
    kinds = Counter(r["run_type"] for r in live.seen["runs"]["modelguard_ingest"])
    assert kinds["manual"] == 2 and kinds["backfill"] == 1


def test_scheduled_runs_process_the_day_that_ended(live) -> None:
    timed = [(kind, start, day) for kind, start, day in live.seen["ingest_days"] if kind in ("scheduled", "backfill")]
    # each run's day is the one its data interval covers; every live day once (the backfill re-ran 09-10's run)
    assert all(day == day_of_interval(_ts_datetime(start), live.live_config.schedule) for _, start, day in timed)
    days = [day for _, _, day in timed]
    assert set(LIVE) <= set(days) and len(days) == len(set(days)), timed
    accepted = {e["batch_id"] for e in decisions.read_decisions(live.lake) if e["action"] == "accept_batch" and e.get("kind") != "labels"}
    assert accepted >= set(HISTORY) - {"2026-09-10"} and {"2026-09-08", "2026-09-09"} <= accepted
    assert live.lake.predictions("2026-09-09").exists()


def test_manual_runs_take_the_param_or_the_latest_complete_day_and_change_nothing(live) -> None:
    with_param, without, expected = live.seen["manual_days"]
    assert with_param == HISTORY[-2] and without == expected == HISTORY[-1]
    assert Counter(live.seen["log_after_manual"]) == Counter(live.seen["log_before_manual"])


def test_a_file_after_its_deadline_is_missing_then_backfilled_once(live) -> None:
    assert live.seen["missing"], "the scheduled run recorded no missing_batch at the deadline"
    assert live.seen["backfill_day"] == "2026-09-10" and len(live.seen["backfill_runs"]) == 1
    entries = decisions.for_batch(live.lake, "2026-09-10")
    assert [e["action"] for e in entries if e["dag_id"] == "modelguard_ingest" and e["action"] != "no_action"
            and e.get("kind") != "labels"] \
        == ["quarantine_batch"]
    assert (live.lake.quarantine_dir("2026-09-10") / "reason.json").exists()
    assert not live.lake.predictions("2026-09-10").exists()


def test_concept_drift_leads_to_an_approval_that_promotes_within_two_minutes(live) -> None:
    requested = live.seen.get("requested")
    assert requested and requested["batch_id"] in LIVE, "no request_approval on a live day"
    assert live.seen["promoted_after"] is not None and live.seen["promoted_after"] < 120
    promoted = [e for e in decisions.read_decisions(live.lake) if e["action"] == "promote"]
    assert [e["model_version"] for e in promoted] == [requested["model_version"]]


def test_a_forced_promotion_needs_airflows_permission_to_trigger(live) -> None:
    status, body = live.seen["viewer_forced_promote"]
    assert status == 403, body
    assert live.seen["promote_runs_added_by_viewer"] == 0


def test_only_an_approver_approves_and_the_log_names_whom_the_server_verified(live) -> None:
    """The pipeline (whose tasks log in as its own account) and a person with EDIT who is not in
    approval.approvers get a 403 from the registry server; alice's approval (through the UI's route) is stamped
    by the server, and the promotion's line names her, verified, with the evidence she saw."""
    for user, (status, body) in live.seen["refused"].items():
        assert status == 403 and "may not approve" in body, (user, body)
    assert live.seen["approved"][0] == 200, live.seen["approved"]
    promoted = next(e for e in decisions.read_decisions(live.lake) if e["action"] == "promote")
    assert (promoted["approved_by"], promoted["identity_verified"]) == ("alice", True)
    assert promoted["approved_at"] and promoted["evidence"]["comparison"] == "passed"
    assert promoted["evidence"]["compared_with"] == promoted["previous_champion"]
    tags = live.seen["promoted_tags"]  # read while the stack ran
    assert (tags["registered_by"], tags["approval_requested_by"]) == ("modelguard", "modelguard")


def test_a_crashed_worker_and_a_restarted_mlflow_leave_no_trace(live) -> None:
    assert live.seen["killed"], f"no monitor task was crashed mid-task: {live.seen['fault_log']}"
    assert live.seen["restarted"], f"MLflow was not restarted during a challenge run: {live.seen['fault_log']}"
    identities = _identities(live.lake)
    assert len(identities) == len(set(identities)), "a decision was recorded twice"
    leftovers = [p for p in live.lake.root.rglob("*.tmp")]
    assert leftovers == [], leftovers
    trained = Counter(tags.get("train_key") for _, tags in live.seen["versions"])
    assert all(count == 1 for count in trained.values()), trained  # each challenger registered once
    retried = live.seen["killed_ti_after"]
    assert retried["state"] == "success" and retried["try_number"] >= 2, retried

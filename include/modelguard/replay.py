"""`modelguard replay`: run the daily cycle for a range of days through the real Airflow DAGs.

Each day runs the DAGs in the order their assets chain them, in this process with `dag.test()`,
so the runs are recorded in the Airflow metadata DB and show in the UI afterwards. Before a day
runs, simulated labels that are due are delivered to `landing/labels/` (only if the lake holds a
simulation), and, with `operator_approves`, a simulated on-call engineer approves pending versions
requested on an earlier day, as a person would in the MLflow UI.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from modelguard.config import PACKAGE_ROOT, PipelineConfig
from modelguard.runtime import quiet_libraries

# The day's DAGs in the order their assets chain them. A DAG with a condition runs only if that
# task of an earlier DAG succeeded, i.e. emitted the asset the DAG is scheduled on (skipped: no event).
CYCLE: list[tuple[str, tuple[str, str] | None]] = [
    ("modelguard_ingest", None),
    ("modelguard_score", None),
    ("modelguard_monitor", None),
    ("modelguard_challenge", ("modelguard_monitor", "request_retrain")),
    ("modelguard_promote", None),
    ("modelguard_rollback", ("modelguard_monitor", "request_rollback")),
]
DAGS_FOLDER = PACKAGE_ROOT / "dags"
SIMULATED_OPERATOR = "on-call engineer (simulated by replay)"


class ReplayError(RuntimeError):
    """A DAG run of the replay failed; the message names the DAG, the day and the failed tasks."""


def prepare_airflow_env(airflow_home: str | os.PathLike | None = None) -> Path:
    """Point Airflow at our DAGs and a metadata DB before it is imported; returns AIRFLOW_HOME."""
    home = Path(airflow_home or os.environ.get("AIRFLOW_HOME") or PACKAGE_ROOT / ".airflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS_FOLDER))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    os.environ["MODELGUARD_TASK_RETRIES"] = "0"  # read by dag_support when the DAGs are parsed
    quiet_libraries()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    # Airflow 3.3's DagRun.serialized_dag warns once per run when a DAG has several serialized versions
    # (any DAG edit between two replays in the same AIRFLOW_HOME); the run itself is unaffected.
    warnings.filterwarnings("ignore", message="Multiple rows returned with uselist=False")
    return home


def ensure_metadata_db(home: Path) -> None:
    """Create / migrate the metadata DB if it is missing (a SQLite file under AIRFLOW_HOME by default)."""
    conn = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not conn and (home / "airflow.db").exists():
        return
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                          env=os.environ.copy())
    if done.returncode != 0:
        raise ReplayError(f"airflow db migrate failed:\n{done.stderr[-2000:]}")


def days_between(start: str, end: str) -> list[str]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise ValueError(f"--end {end} is before --start {start}")
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _load_dags(dag_ids: list[str]) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        raise ReplayError(f"DAG import errors: {bag.import_errors}")
    missing = [d for d in dag_ids if d not in bag.dags]
    if missing:
        raise ReplayError(f"DAGs missing from {DAGS_FOLDER}: {missing}")
    return {dag_id: bag.dags[dag_id] for dag_id in dag_ids}


def _state(obj) -> str:
    return str(getattr(obj.state, "value", obj.state))


def _run_cycle(dags: dict, cycle: list, batch_id: str, home: Path, run_conf: dict | None = None) -> tuple[dict, dict]:
    """Run one day's DAGs in order with dag.test; raises ReplayError naming a failed DAG and its tasks."""
    import pendulum

    states, seconds, task_states = {}, {}, {}
    for dag_id, condition in cycle:
        if condition and task_states.get(condition) != "success":
            continue
        started = time.perf_counter()
        run = dags[dag_id].test(logical_date=pendulum.parse(batch_id), run_conf={"batch_id": batch_id, **(run_conf or {})})
        seconds[dag_id] = round(time.perf_counter() - started, 2)
        states[dag_id] = _state(run)
        instances = run.get_task_instances()
        task_states.update({(dag_id, ti.task_id): _state(ti) for ti in instances})
        if states[dag_id] != "success":
            failed = [ti.task_id for ti in instances if _state(ti) not in ("success", "skipped")]
            raise ReplayError(f"{dag_id} failed for {batch_id} (tasks: {', '.join(failed) or '?'}); "
                              f"see the run's logs in the Airflow UI or under {home}/logs")
    return states, seconds


def replay(config: PipelineConfig, days: list[str], *, operator_approves: bool = False,
           on_day: Callable[[str, dict], None] | None = None) -> list[dict]:
    """Run the cycle for each day in order; returns one summary per day."""
    from modelguard.promote import approve_requested
    from modelguard.simulate import deliver_labels

    home = prepare_airflow_env()
    ensure_metadata_db(home)
    logging.getLogger("airflow").setLevel(logging.WARNING)
    dags = _load_dags([dag_id for dag_id, _ in CYCLE])
    summaries = []
    for batch_id in days:
        delivered = deliver_labels(config.storage_root, batch_id)
        approved = approve_requested(config, batch_id, SIMULATED_OPERATOR) if operator_approves else []
        states, seconds = _run_cycle(dags, CYCLE, batch_id, home)
        summary = {"batch_id": batch_id, "labels_delivered": delivered, "approved": approved, "runs": states,
                   "seconds": seconds}
        summaries.append(summary)
        if on_day:
            on_day(batch_id, summary)
    return summaries


def release(config: PipelineConfig, batch_id: str) -> dict:
    """Run `modelguard_release` for a quarantined day, then the rest of that day's cycle on it."""
    from modelguard.decisions import for_batch
    from modelguard.storage import Lake

    home = prepare_airflow_env()
    ensure_metadata_db(home)
    logging.getLogger("airflow").setLevel(logging.WARNING)
    cycle = [("modelguard_release", None), *CYCLE[1:]]
    dags = _load_dags([dag_id for dag_id, _ in cycle])
    states, _ = _run_cycle(dags, cycle, batch_id, home)
    last = [e for e in for_batch(Lake(config.storage_root), batch_id) if e["dag_id"] == "modelguard_release"]
    return {"batch_id": batch_id, "runs": states, "status": "accepted" if last and last[-1]["action"] == "accept_batch"
            else "quarantined", "reason": last[-1]["reason"] if last else None}

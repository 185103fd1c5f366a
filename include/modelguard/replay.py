"""`modelguard replay`: run the daily cycle for a range of days through the real Airflow DAGs.

Each day runs the DAGs as their assets chain them, in this process with `dag.test()`,
so the runs are recorded in the Airflow metadata DB and show in the UI afterwards. Before a day
runs, simulated labels that are due are delivered to `landing/labels/` (only if the lake holds a
simulation), and, with `operator_approves`, a simulated on-call engineer approves pending versions
requested on an earlier day, as a person would in the MLflow UI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from modelguard.batch_days import REPLAY_DAY_ENV, parse_batch_id
from modelguard.config import PACKAGE_ROOT, PipelineConfig
from modelguard.pools import ensure_pools
from modelguard.runtime import quiet_libraries

# Where a day starts: the DAG that the scheduler starts once per batch day. Which DAGs follow, and when,
# is read from the DAGs themselves (their asset schedules and task outlets), as the scheduler reads it.
DAILY_DAG = "modelguard_ingest"
RELEASE_DAG = "modelguard_release"
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
    """Create / migrate the metadata DB if it is missing (a SQLite file under AIRFLOW_HOME by default),
    and create the pools the DAGs use: the scheduler never runs a task whose pool does not exist."""
    conn = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if conn or not (home / "airflow.db").exists():
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                              env=os.environ.copy())
        if done.returncode != 0:
            raise ReplayError(f"airflow db migrate failed:\n{done.stderr[-2000:]}")
    ensure_pools()



def days_between(start: str, end: str) -> list[str]:
    first, last = parse_batch_id(start), parse_batch_id(end)  # YYYY-MM-DD only: the days name lake files
    if last < first:
        raise ValueError(f"--end {end} is before --start {start}")
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _load_dags() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        raise ReplayError(f"DAG import errors: {bag.import_errors}")
    missing = [d for d in (DAILY_DAG, RELEASE_DAG) if d not in bag.dags]
    if missing:
        raise ReplayError(f"DAGs missing from {DAGS_FOLDER}: {missing}")
    return dict(bag.dags)


def _satisfied(condition, emitted: set[str]) -> bool:
    """Does a DAG's asset schedule fire on the events of `emitted` (asset URIs)? Evaluates `|` and `&`."""
    from airflow.sdk.definitions.asset import AssetAll, AssetAny

    if isinstance(condition, AssetAll):
        return all(_satisfied(part, emitted) for part in condition.objects)
    if isinstance(condition, AssetAny):
        return any(_satisfied(part, emitted) for part in condition.objects)
    return getattr(condition, "uri", None) in emitted


def downstream(dags: dict, emitted: set[str], done: set[str]) -> list[str]:
    """The asset-scheduled DAGs that the events in `emitted` start, not yet run this day, by dag_id."""
    ready = []
    for dag_id, dag in dags.items():
        condition = getattr(dag.timetable, "asset_condition", None)
        if dag_id not in done and condition is not None and _satisfied(condition, emitted):
            ready.append(dag_id)
    return sorted(ready)


def _state(obj) -> str:
    return str(getattr(obj.state, "value", obj.state))


@contextlib.contextmanager
def _replaying(batch_id: str) -> Iterator[None]:
    """The replayed day is "today" for its runs' `batch_id` Param (a simulated timeline may lie in the future)."""
    previous = os.environ.get(REPLAY_DAY_ENV)
    os.environ[REPLAY_DAY_ENV] = batch_id
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(REPLAY_DAY_ENV, None)
        else:
            os.environ[REPLAY_DAY_ENV] = previous


def _run_cycle(dags: dict, first: str, batch_id: str, home: Path, run_conf: dict | None = None) -> tuple[dict, dict]:
    """Run `first` for the day, then every DAG its asset events start, and theirs, each once.

    An asset event is emitted when a task with that outlet succeeds (a skipped task emits nothing), as
    under the scheduler. Raises ReplayError naming a failed DAG and its tasks.
    """
    import pendulum

    states, seconds, emitted, queue = {}, {}, set(), [first]
    while queue:
        dag_id = queue.pop(0)
        dag = dags[dag_id]
        started = time.perf_counter()
        with _replaying(batch_id):
            run = dag.test(logical_date=pendulum.parse(batch_id), run_conf={"batch_id": batch_id, **(run_conf or {})})
        seconds[dag_id] = round(time.perf_counter() - started, 2)
        states[dag_id] = _state(run)
        instances = run.get_task_instances()
        if states[dag_id] != "success":
            failed = [ti.task_id for ti in instances if _state(ti) not in ("success", "skipped")]
            raise ReplayError(f"{dag_id} failed for {batch_id} (tasks: {', '.join(failed) or '?'}); "
                              f"see the run's logs in the Airflow UI or under {home}/logs")
        for ti in instances:
            if _state(ti) == "success":
                emitted.update(asset.uri for asset in dag.get_task(ti.task_id).outlets if hasattr(asset, "uri"))
        queue.extend(d for d in downstream(dags, emitted, set(states) | set(queue)) if d not in queue)
    return states, seconds


def replay(config: PipelineConfig, days: list[str], *, operator_approves: bool = False,
           on_day: Callable[[str, dict], None] | None = None) -> list[dict]:
    """Run the cycle for each day in order; returns one summary per day."""
    from modelguard.promote import approve_requested
    from modelguard.simulate import deliver_labels

    home = prepare_airflow_env()
    ensure_metadata_db(home)
    logging.getLogger("airflow").setLevel(logging.WARNING)
    dags = _load_dags()
    summaries = []
    for batch_id in days:
        delivered = deliver_labels(config.storage_root, batch_id)
        approved = approve_requested(config, batch_id, SIMULATED_OPERATOR) if operator_approves else []
        states, seconds = _run_cycle(dags, DAILY_DAG, batch_id, home)
        summary = {"batch_id": batch_id, "labels_delivered": delivered, "approved": approved, "runs": states,
                   "seconds": seconds}
        summaries.append(summary)
        if on_day:
            on_day(batch_id, summary)
    return summaries


def release(config: PipelineConfig, batch_id: str, labels: bool = False) -> dict:
    """Run `modelguard_release` for a quarantined day's batch (or label file), then the rest of that day's
    cycle on it."""
    from modelguard.decisions import batch_status, for_batch
    from modelguard.storage import Lake

    home = prepare_airflow_env()
    ensure_metadata_db(home)
    logging.getLogger("airflow").setLevel(logging.WARNING)
    states, _ = _run_cycle(_load_dags(), RELEASE_DAG, batch_id, home, run_conf={"labels": labels})
    lake = Lake(config.storage_root)
    last = [e for e in for_batch(lake, batch_id) if e["dag_id"] == "modelguard_release"
            and (e.get("kind") == "labels") == labels]
    if labels:
        status = "accepted" if last and last[-1]["action"] == "accept_batch" else "quarantined"
    else:
        status = batch_status(lake, batch_id)
    return {"batch_id": batch_id, "runs": states, "status": status, "reason": last[-1]["reason"] if last else None}

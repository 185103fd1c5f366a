"""The product's day, timed as a user runs it, side by side with the library-default way in one run.

    .venv/bin/python benchmarks/day_bench.py [--rows 1000000] [--small-days 5] [--no-scheduler]

Set-up (not timed): a lake with a 200,000-row reference (25 features: 20 numeric, 5 categorical), its
suites and first champion from `modelguard init`, and one small first day replayed so that Airflow's
metadata DB exists. Then, each in its own process so that its peak RSS is its own:

- **ours, big day**: `modelguard replay --start D --end D` on a day of `--rows` rows (a fresh CLI process:
  Airflow's DAGs through `dag.test()`, ingest -> score -> monitor -> promote, every output written).
- **library default**: the same landed file, validated by the same GX suite on the full batch
  (`engine="gx"`), scored by the champion loaded from the registry (`predict_proba` on the full batch),
  predictions written as parquet, Evidently's `DataDriftPreset` on the full batch against the same scored
  reference, and its HTML written. It does not write a validated copy, a decision log or health rows.
  Timed as a fresh python process, as ours is (the ratio's denominator), and from its first line of work.
- **imports alone**: a bare process importing what a day needs; no day as a fresh process is faster.
- **ours, small days**: a fresh `modelguard replay` of one 1,500-row day, and `--small-days - 1` more such
  days in one process; their difference is the cost of each day beyond the first (the per-day overhead, as
  `make demo` pays it), and the first is what a fresh process adds (at least the imports).
- **ours under the scheduler** (unless `--no-scheduler`): the same big day on docker-compose's topology run
  natively (tests/live_stack.py: PostgreSQL, Redis, an MLflow server with auth, Airflow's api-server,
  scheduler, dag-processor, triggerer, two Celery workers), triggered through the REST API as a person does
  in the UI; timed from the click to the end of the promote run the scheduler starts from asset events.

The per-stage breakdown of ours is read from Airflow's own records (each task instance's duration).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monitor_bench import CATEGORICAL, NUMERIC, make_frame  # noqa: E402 - the same data as the monitor bench

PROJECT = Path(__file__).resolve().parents[1]
REFERENCE_ROWS = 200_000
SMALL_ROWS = 1_500
FIRST = dt.date(2026, 9, 1)  # the untimed warm-up day; the big day follows, then the small days
GOAL_RATIO, GOAL_DAY_SECONDS, GOAL_PEAK_MB = 0.25, 8.0, 3 * 1024


def day_frame(rows: int, day: dt.date, seed: int, shifted: bool) -> pd.DataFrame:
    frame = make_frame(rows, seed, shifted).drop(columns=["y"])
    frame["event_time"] = frame["event_time"] + (pd.Timestamp(day) - pd.Timestamp("2026-09-01"))
    frame["row_id"] = f"{day:%Y%m%d}-" + frame["row_id"]
    return frame


def reference_frame() -> pd.DataFrame:
    """Two weeks before the first day, so that `init` holds out whole days."""
    frame = make_frame(REFERENCE_ROWS, 2, shifted=False)
    rng = np.random.default_rng(3)
    seconds = np.sort(rng.integers(0, 14 * 86_400, len(frame)))
    frame["event_time"] = pd.Timestamp(FIRST - dt.timedelta(days=14)) + pd.to_timedelta(seconds, unit="s")
    return frame


def write_lake(folder: Path, rows: int, small_days: int, tracking_uri: str = "sqlite:///mlflow.db"
               ) -> tuple[Path, dict, list[str]]:
    """Config, reference, landed days; returns (config file, CLI environment, [warm-up, big, small...])."""
    config_file = folder / "pipeline.yaml"
    config_file.write_text(yaml.safe_dump({
        "model": {"name": "day_bench", "target": "y", "id_column": "row_id", "timestamp_column": "event_time",
                  "features": {"numeric": NUMERIC, "categorical": CATEGORICAL}},
        "storage": {"root": "lake"}, "mlflow": {"tracking_uri": tracking_uri},
        "validation": {"max_rows": max(10_000_000, 2 * rows)}}, sort_keys=False))
    lake = folder / "lake"
    (lake / "reference").mkdir(parents=True)
    (lake / "landing" / "batches").mkdir(parents=True)
    reference_frame().to_parquet(lake / "reference" / "train.parquet", index=False)
    days = [FIRST + dt.timedelta(days=i) for i in range(2 + small_days)]
    for index, day in enumerate(days):
        size = rows if index == 1 else SMALL_ROWS
        day_frame(size, day, seed=10 + index, shifted=index == 1).to_parquet(
            lake / "landing" / "batches" / f"{day}.parquet", index=False, row_group_size=100_000)
    env = {**os.environ, "MODELGUARD_CONFIG": str(config_file), "AIRFLOW_HOME": str(folder / "airflow"),
           "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}
    return config_file, env, [d.isoformat() for d in days]


def measured(argv: list[str], env: dict, cwd: Path, timeout: float | None = None) -> dict:
    """Run `argv` in a child of a fresh measuring process: wall seconds and the peak RSS of the child tree.
    After `timeout` seconds the whole tree is stopped and the result says so."""
    probe = ("import json, resource, subprocess, sys, time\n"
             "t = time.perf_counter(); done = subprocess.run(sys.argv[1:])\n"
             "print(json.dumps({'rc': done.returncode, 'seconds': time.perf_counter() - t,\n"
             "  'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", probe, *argv], env=env, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return {"rc": -9, "seconds": time.perf_counter() - started, "peak_mb": float("nan"),
                "error": [f"stopped after {timeout:.0f} s (did not finish)"]}
    done = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        result["error"] = done.stderr.strip().splitlines()[-1:] or ["?"]
    return result


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelguard.cli", *args]


def stage_seconds(airflow_home: Path, since: dt.datetime) -> dict[str, float]:
    """Task-instance durations recorded by Airflow for runs started after `since`, by `dag.task`."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute("SELECT dag_id, task_id, duration, start_date FROM task_instance "
                          "WHERE duration IS NOT NULL").fetchall()
    stages: dict[str, float] = {}
    for dag_id, task_id, duration, start in rows:
        started = pd.Timestamp(start)
        started = started.tz_localize("UTC") if started.tzinfo is None else started
        if started >= pd.Timestamp(since):
            key = f"{dag_id.removeprefix('modelguard_')}.{task_id}"
            stages[key] = stages.get(key, 0.0) + float(duration)
    return stages


def library_default(config_file: str, day: str, out: str) -> None:
    """The library-default way on one landed day (run in its own process; imports are not timed)."""
    import evidently  # noqa: F401
    import great_expectations  # noqa: F401
    import mlflow
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from modelguard.config import load_config
    from modelguard.drift import column_verdicts
    from modelguard.runtime import quiet_libraries
    from modelguard.storage import Lake
    from modelguard.suites import batch_parameters
    from modelguard.validation import validate

    quiet_libraries()
    config = load_config(Path(config_file))
    lake = Lake(config.storage_root)
    mlflow.set_tracking_uri(config.mlflow.tracking_uri)
    started = time.perf_counter()
    batch = pd.read_parquet(lake.landing("batches", day))
    suite = lake.read_json(lake.expectation_suite("batches"))
    accepted = validate(batch, suite, config.model.id_column, batch_parameters(day), engine="gx").accepted
    champion = mlflow.sklearn.load_model(f"models:/{config.model.name}@champion")
    batch["score"] = champion.predict_proba(batch[config.model.features.all])[:, 1]
    predictions = Path(out).with_suffix(".parquet")
    batch[[config.model.id_column, config.model.timestamp_column, "score"]].to_parquet(predictions, index=False)
    reference = pd.read_parquet(lake.reference_scored)
    numeric, categorical = [*config.model.features.numeric, "score"], config.model.features.categorical
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(batch[numeric + categorical], data_definition=definition),
        Dataset.from_pandas(reference[numeric + categorical], data_definition=definition))
    snapshot.save_html(str(Path(out).with_suffix(".html")))
    seconds = time.perf_counter() - started
    verdicts = column_verdicts(snapshot.dict())
    Path(out).write_text(json.dumps({
        "seconds": seconds, "accepted": accepted, "drifted": sorted(c for c, v in verdicts.items() if v["drifted"]),
        "drift_values": {c: v["value"] for c, v in verdicts.items()},
        "html_bytes": Path(out).with_suffix(".html").stat().st_size}))


CYCLE = ("modelguard_ingest", "modelguard_score", "modelguard_monitor", "modelguard_promote")


def _stamp(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class PeakRss(threading.Thread):
    """Samples, every 0.2 s, the RSS of the Celery workers and every process under them (the task
    processes they fork): the peak of their sum, and of the largest single process."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.total_mb, self.largest_mb, self._halt = pids, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        import psutil

        while not self._halt.is_set():
            sizes = []
            for pid in self.pids:
                with contextlib.suppress(psutil.Error):
                    root = psutil.Process(pid)
                    for process in [root, *root.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            sizes.append(process.memory_info().rss / 2**20)
            if sizes:
                self.total_mb, self.largest_mb = max(self.total_mb, sum(sizes)), max(self.largest_mb, max(sizes))
            self._halt.wait(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _cycle(stack, day: str, timeout: float) -> dict:
    """Trigger `modelguard_ingest` for `day` through Airflow's REST API, as a person does in the UI, and wait
    for the runs the scheduler starts from its asset events (score, monitor, promote); the runs, by DAG."""
    clicked = time.time()
    run_id = stack.trigger(CYCLE[0], conf={"batch_id": day})
    runs = {CYCLE[0]: stack.wait_run(CYCLE[0], run_id, timeout)}
    for dag_id in CYCLE[1:]:
        found = stack.wait_for_run(dag_id, timeout, where=lambda r: r["run_type"] == "asset_triggered"
                                   and _stamp(r["run_after"]) >= clicked)
        runs[dag_id] = stack.wait_run(dag_id, found["dag_run_id"], timeout)
    failed = [d for d, r in runs.items() if r["state"] != "success"]
    if failed:
        raise RuntimeError(f"{day}: {failed} did not succeed under the scheduler; see {stack.logs}")
    return {"clicked": clicked, "runs": runs}


def scheduler_day(folder: Path, rows: int, timeout: float = 900) -> dict:
    """The same day under Airflow's scheduler: docker-compose's topology run natively (tests/live_stack.py:
    Postgres, Redis, an MLflow server with auth, api-server, scheduler, dag-processor, triggerer, two Celery
    workers). Untimed: the stack's start, `init` through the MLflow server and a first small day. Timed: from
    the trigger of the big day to the end of its promote run."""
    sys.path.insert(0, str(PROJECT))
    from tests.live_stack import LiveStack

    subprocess.run(["bash", str(PROJECT / "scripts" / "install_stack.sh")], check=True)
    stack = LiveStack(folder / "stack")
    config_file, env, days = write_lake(folder, rows, 0, tracking_uri=stack.mlflow_uri)
    # No scheduled run while the bench runs: the batch clock stands an hour before a day after the landed ones
    # (the manual runs' days are complete), and the first scheduled day ends a day from now.
    config = yaml.safe_load(config_file.read_text())
    config["schedule"] = {"rehearsal": {
        "day_length": "1d", "first_day": (dt.date.fromisoformat(days[-1]) + dt.timedelta(days=2)).isoformat(),
        "start": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()}}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    stack.config_file = config_file
    try:
        stack.start_backends()
        subprocess.run(cli("init"), env={**env, **stack.mlflow_env()}, cwd=folder, check=True, capture_output=True)
        stack.start_airflow()
        stack.wait_dag_parsed(CYCLE, timeout=180)
        for dag_id in CYCLE:
            stack.unpause(dag_id)
        _cycle(stack, days[0], timeout)
        peak = PeakRss([stack._procs[f"worker{i}"].pid for i in range(stack.workers)])
        peak.start()
        try:
            day = _cycle(stack, days[1], timeout)
        finally:
            peak.stop()
        stages = {}
        for dag_id, run in day["runs"].items():
            for ti in stack.task_instances(dag_id, run["dag_run_id"]):
                if ti.get("duration"):
                    stages[f"{dag_id.removeprefix('modelguard_')}.{ti['task_id']}"] = float(ti["duration"])
        outcome = ours_outcome(config_file, days[1])
    finally:
        stack.stop()
    return {"seconds": _stamp(day["runs"][CYCLE[-1]]["end_date"]) - day["clicked"], "stages": stages,
            "peak_mb": peak.largest_mb, "workers_peak_mb": peak.total_mb, **outcome}


def print_profile(path: Path, top: int = 30) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(top)


def ours_outcome(config_file: Path, day: str) -> dict:
    from modelguard import decisions
    from modelguard.config import load_config
    from modelguard.storage import Lake

    lake = Lake(load_config(config_file).storage_root)
    drift = lake.read_json(lake.report_dir(day) / "drift.json", {}) or {}
    reports = sum(p.stat().st_size for p in lake.report_dir(day).glob("*")) if lake.report_dir(day).exists() else 0
    columns = drift.get("columns", {})  # the features and the champion's score, as the library default has them
    return {"status": decisions.batch_status(lake, day),
            "drifted": sorted(c for c, v in columns.items() if v["drifted"]),
            "drift_values": {c: v["value"] for c, v in columns.items()},
            "drift_thresholds": {c: v["threshold"] for c, v in columns.items()}, "report_bytes": reports}


IMPORT_FLOOR = ("import airflow.sdk, airflow.models, mlflow, pandas, pyarrow.parquet, sklearn.ensemble, "
                "evidently; from airflow.api_fastapi.execution_api import app")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-days", type=int, default=5)
    parser.add_argument("--skip-library-default", action="store_true",
                        help="do not run the library-default way (at 10M rows it was OOM-killed at 23.8 GB here)")
    parser.add_argument("--default-timeout", type=float, default=None,
                        help="stop the library-default way after this many seconds (it may not finish on big days)")
    parser.add_argument("--no-scheduler", action="store_true",
                        help="skip the day under Airflow's scheduler (needs PostgreSQL and Redis: scripts/install_stack.sh)")
    parser.add_argument("--scheduler-only", action="store_true", help="only the day under the scheduler")
    parser.add_argument("--profile", type=Path, help="run the big day under cProfile, write the stats here and "
                        "print the top functions (its time is then not comparable)")
    parser.add_argument("--library-default", nargs=3, metavar=("CONFIG", "DAY", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library_default:
        library_default(*args.library_default)
        return
    if args.scheduler_only:
        with tempfile.TemporaryDirectory(prefix="day-bench-scheduler-") as name:
            scheduled = scheduler_day(Path(name), args.rows)
        print(f"ours under the scheduler, {args.rows:,}-row day: {scheduled['seconds']:.1f} s, largest task "
              f"process {scheduled['peak_mb']:,.0f} MB; per task: " + ", ".join(
                  f"{k} {v:.1f}" for k, v in sorted(scheduled["stages"].items(), key=lambda item: -item[1])))
        return

    with tempfile.TemporaryDirectory(prefix="day-bench-") as name:
        folder = Path(name)
        t = time.perf_counter()
        config_file, env, days = write_lake(folder, args.rows, args.small_days)
        warmup, big, small = days[0], days[1], days[2:]
        subprocess.run(cli("init"), env=env, cwd=folder, check=True, capture_output=True)
        first = measured(cli("replay", "--start", warmup, "--end", warmup), env, folder)
        print(f"set-up (untimed): lake, init and a first {SMALL_ROWS:,}-row day in {time.perf_counter() - t:.0f} s "
              f"(that first replay, which creates Airflow's metadata DB: {first['seconds']:.1f} s)", flush=True)

        since = dt.datetime.now(dt.UTC)
        replay_big = cli("replay", "--start", big, "--end", big)
        if args.profile:
            replay_big[1:1] = ["-m", "cProfile", "-o", str(args.profile.resolve())]
        ours = measured(replay_big, env, folder)
        if args.profile:
            print_profile(args.profile)
        stages = stage_seconds(folder / "airflow", since)
        ours.update(ours_outcome(config_file, big))
        print(f"ours, {args.rows:,}-row day: {ours['seconds']:.1f} s", flush=True)

        out = folder / "library_default.json"
        default = {"rc": -1, "error": ["skipped (--skip-library-default)"]} if args.skip_library_default else \
            measured([sys.executable, __file__, "--library-default", str(config_file), big, str(out)], env, folder,
                     timeout=args.default_timeout)
        if default["rc"] == 0:
            default["process_seconds"] = default["seconds"]
            default.update(json.loads(out.read_text()))
            print(f"library default, {args.rows:,}-row day: {default['process_seconds']:.1f} s as a process "
                  f"({default['seconds']:.1f} s after its imports)", flush=True)
        else:
            print(f"library default FAILED (rc {default['rc']}): {default.get('error')}", flush=True)

        one = measured(cli("replay", "--start", small[0], "--end", small[0]), env, folder)
        rest = measured(cli("replay", "--start", small[1], "--end", small[-1]), env, folder) if len(small) > 1 else None
        floor = measured([sys.executable, "-c", IMPORT_FLOOR], env, folder)

    scheduled = None
    if not args.no_scheduler:
        with tempfile.TemporaryDirectory(prefix="day-bench-scheduler-") as name:
            scheduled = scheduler_day(Path(name), args.rows)
        print(f"ours under the scheduler, {args.rows:,}-row day: {scheduled['seconds']:.1f} s", flush=True)

    print(f"\nbatch {args.rows:,} rows x 25 features (20 numeric, 5 categorical) + id + timestamp; "
          f"reference {REFERENCE_ROWS:,} rows; 2 cores")
    print(f"{'way':<46}{'seconds':>9}{'peak RSS MB':>13}")
    print(f"{'ours: modelguard replay (a fresh CLI process)':<46}{ours['seconds']:>9.1f}{ours['peak_mb']:>13,.0f}")
    if scheduled:
        print(f"{'ours: the scheduler (trigger to promote done)':<46}{scheduled['seconds']:>9.1f}"
              f"{scheduled['peak_mb']:>13,.0f}   (largest task process; Celery workers and their tasks together: "
              f"{scheduled['workers_peak_mb']:,.0f} MB)")
    if default["rc"] == 0:
        print(f"{'library default: a fresh python process':<46}{default['process_seconds']:>9.1f}"
              f"{default['peak_mb']:>13,.0f}")
        print(f"{'library default: after its imports':<46}{default['seconds']:>9.1f}{'':>13}   (the same process, "
              "timed from its first line of work)")
    print(f"{'imports alone (airflow, mlflow, evidently)':<46}{floor['seconds']:>9.1f}"
          f"{floor['peak_mb']:>13,.0f}   (a bare process importing what a day needs)")
    ways = [("replay", stages)] + ([("scheduler", scheduled["stages"])] if scheduled else [])
    print("\nours, per stage (task-instance durations recorded by Airflow), seconds:")
    print(f"  {'task':<40}" + "".join(f"{way:>11}" for way, _ in ways))
    for stage in sorted(stages, key=lambda item: -stages[item]):
        print(f"  {stage:<40}" + "".join(f"{found.get(stage, float('nan')):>11.1f}" for _, found in ways))
    print(f"  {'(sum of tasks)':<40}" + "".join(f"{sum(found.values()):>11.1f}" for _, found in ways)
          + "   the rest is process start, imports, DAG parsing, Airflow's bookkeeping (and, under the "
          "scheduler, the time from one run's end to the next's start)")
    print(f"\nours: batch {ours['status']}, drifted {ours['drifted'] or 'none'}, report files {ours['report_bytes']:,} B")
    if scheduled:
        print(f"ours under the scheduler: batch {scheduled['status']}, drifted {scheduled['drifted'] or 'none'}")
    if default["rc"] == 0:
        print(f"library default: batch {'accepted' if default['accepted'] else 'rejected'}, "
              f"drifted {default['drifted'] or 'none'}, HTML {default['html_bytes']:,} B")
        # ours measures drift on samples of drift.sample_rows rows, the library default on every row: a column
        # whose distance lies within the sampling error of its threshold may get the other verdict
        differ = sorted(set(ours["drifted"]) ^ set(default["drifted"]))
        print(f"drift verdicts, ours (samples) vs the library default (every row): the same on "
              f"{len(ours['drift_values']) - len(differ)} of {len(ours['drift_values'])} columns" + "".join(
                  f"; {c}: ours {ours['drift_values'].get(c, float('nan')):.3f}, every row "
                  f"{default['drift_values'].get(c, float('nan')):.3f}, threshold {ours['drift_thresholds'].get(c)}"
                  for c in differ))
    # One fresh replay = start-up + a day; n days in one replay = start-up + n days: a day = the difference / (n - 1)
    marginal = (rest["seconds"] - one["seconds"]) / (len(small) - 2) if rest and len(small) > 2 else None
    print(f"\nsmall day ({SMALL_ROWS:,} rows): one day as a fresh `modelguard replay`: {one['seconds']:.1f} s "
          f"(of which imports, at least {floor['seconds']:.1f} s)"
          + (f"; {len(small) - 1} more days in one replay: {rest['seconds']:.1f} s" if rest else "")
          + (f", so each day beyond the first costs ({rest['seconds']:.1f} - {one['seconds']:.1f}) / "
             f"{len(small) - 2} = {marginal:.1f} s" if marginal is not None else ""))
    goals = {}
    if default["rc"] == 0:
        ratio = ours["seconds"] / default["process_seconds"]
        print(f"\nours / library default, both fresh processes: {ratio:.3f} "
              f"(against the library default after its imports: {ours['seconds'] / default['seconds']:.3f})")
        goals[f"big day <= {GOAL_RATIO}x library default (both as processes)"] = ratio <= GOAL_RATIO
    goals[f"peak RSS < {GOAL_PEAK_MB / 1024:.0f} GB"] = ours["peak_mb"] < GOAL_PEAK_MB
    if marginal is not None:
        goals[f"per-day overhead (a small day in a replay) <= {GOAL_DAY_SECONDS:.0f} s"] = marginal <= GOAL_DAY_SECONDS
    goals["same validation verdict"] = default["rc"] != 0 or (ours["status"] == "accepted") == default["accepted"]
    if scheduled:
        goals["same verdicts under the scheduler"] = (scheduled["status"], scheduled["drifted"]) == \
            (ours["status"], ours["drifted"])
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()

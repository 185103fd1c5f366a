"""Decision quality: what modelguard serves through simulated timelines, against three baselines.

    .venv/bin/python benchmarks/decision_bench.py [--streams fraud loans] [--seeds 3] [--rows 5000]

For each stream (benchmarks/streams.py: the demo's fraud stream, labels 3 days late, and a loan stream of
our own design, labels 2 days late) and seed it simulates the timeline, runs the daily cycle with the same
stage functions the DAG tasks call (in process, in DAG order, without the scheduler: this measures
decisions, not Airflow), with a simulated engineer approving requests the next day (the approval watcher
then promotes before that day's batch is scored), and compares the AUC of the served predictions with:
- never-retrain: the first champion forever;
- weekly retrain: every 7 days, a model trained on the last 10 labelled days, promoted blindly;
- oracle: a model trained on fresh data of the concept in force that day;
- lag bound: the best any label-driven, human-approved policy can serve: the old champion until the day
  after the first drifted labels arrive (labels late, a person approves the next day), the oracle after.
It reports served AUC over the whole drifted phase (lag included), days from the first drifted labels to
the first request for a challenger that repairs, alerts or registry actions on quiet days, promotions of
non-repairing challengers without the "partial fix" flag, and rows of quarantined batches that reached any
training set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from modelguard import decisions, model, tasks
from modelguard.bootstrap import initialise
from modelguard.config import load_config
from modelguard.promote import approve_requested
from modelguard.registry import Registry
from modelguard.report import match_incidents, quiet_day_actions
from modelguard.simulate import deliver_labels
from modelguard.storage import Lake

sys.path.insert(0, str(Path(__file__).resolve().parent))
from streams import STREAMS, Stream  # noqa: E402 - the bench's timelines

PROJECT = Path(__file__).resolve().parents[1]


def run_day(config, batch_id: str) -> None:
    """The cycle's tasks in DAG order, with the same conditions as the assets that chain them."""
    tasks.ingest_labels(batch_id)
    tasks.ingest_batch(batch_id)
    tasks.score_batch(batch_id)
    tasks.drift_report(batch_id)
    tasks.measure_performance(batch_id)
    assessment = tasks.assess(batch_id)
    if assessment["retrain"]:
        tasks.challenge(batch_id)
    tasks.promote(batch_id)
    if assessment["rollback"]:
        tasks.rollback(batch_id)


def served_auc(lake: Lake, config, days: list[str]) -> dict[str, float]:
    out = {}
    for day in days:
        preds, labels = lake.predictions(day), lake.root / "simulation" / "labels" / f"{day}.parquet"
        if preds.exists():
            frame = pd.read_parquet(preds).merge(pd.read_parquet(labels), on=config.model.id_column)
            out[day] = model.fast_auc(frame[config.model.target], frame["score_champion"])
    return out


def baselines(config, lake: Lake, stream: Stream, schedule: dict, days: list[str], seed: int
              ) -> dict[str, dict[str, float]]:
    reference = pd.read_parquet(lake.reference_train)
    first = model.fit(config.model, reference)
    rng = np.random.default_rng(seed + 1000)
    key, target, delay = config.model.id_column, config.model.target, stream.label_delay_days
    oracles = {}
    never, weekly, oracle = {}, {}, {}
    current = first
    for index, day in enumerate(days):
        batch_path = lake.validated("batches", day)
        if not batch_path.exists():
            continue
        frame = pd.read_parquet(batch_path).merge(pd.read_parquet(lake.simulation_dir / "labels" / f"{day}.parquet"),
                                                  on=key)
        y = frame[target]
        never[day] = model.fast_auc(y, model.predict_scores(first, config.model, frame))
        if index % 7 == 0 and index >= 10:
            window = [d for d in days[max(0, index - 10 - delay):index - delay] if lake.validated("batches", d).exists()]
            train = pd.concat([pd.read_parquet(lake.validated("batches", d)).merge(
                pd.read_parquet(lake.simulation_dir / "labels" / f"{d}.parquet"), on=key) for d in window])
            current = model.fit(config.model, train)
        weekly[day] = model.fast_auc(y, model.predict_scores(current, config.model, frame))
        concept = stream.concept_on(index, schedule)
        if concept not in oracles:
            oracles[concept] = model.fit(config.model, stream.fresh(rng, 20_000, dt.date.fromisoformat(day), concept))
        oracle[day] = model.fast_auc(y, model.predict_scores(oracles[concept], config.model, frame))
    drift = next((i["batch_id"] for i in schedule["incidents"] if i["kind"] == "concept_drift"), None)
    first_response = (dt.date.fromisoformat(drift) + dt.timedelta(days=delay + 1)).isoformat() if drift else None
    bound = {d: (never[d] if first_response and drift <= d < first_response else oracle[d]) for d in oracle}
    return {"never retrain": never, "weekly retrain": weekly, "oracle": oracle, "lag bound": bound}


def phases(schedule: dict, days: list[str]) -> dict[str, list[str]]:
    by_kind = {i["kind"]: i["batch_id"] for i in schedule["incidents"]}
    drift, reversal = by_kind.get("concept_drift"), by_kind.get("reversal")
    return {
        "before drift": [d for d in days if drift is None or d < drift],
        "concept drift": [d for d in days if drift and d >= drift and (reversal is None or d < reversal)],
        "after reversal": [d for d in days if reversal and d >= reversal],
    }


def run_seed(stream: Stream, seed: int, days_count: int, rows: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"decision-bench-{stream.name.split()[0]}-{seed}-"))
    config_file = folder / "pipeline.yaml"
    data = yaml.safe_load((PROJECT / "include" / "config" / "pipeline.yaml").read_text())
    if stream.model is not None:
        data["model"] = stream.model
    data["storage"] = {"root": "lake"}
    data["mlflow"] = {"tracking_uri": "sqlite:///mlflow.db", "experiment": "modelguard"}
    config_file.write_text(yaml.safe_dump(data))
    os.environ["MODELGUARD_CONFIG"] = str(config_file)
    config = load_config(config_file)
    lake = Lake(config.storage_root)
    schedule = stream.write(lake.root, days_count, rows, seed)
    initialise(config)
    days = [(dt.date.fromisoformat(schedule["start"]) + dt.timedelta(days=i)).isoformat() for i in range(days_count)]
    for day in days:
        deliver_labels(lake.root, day)
        # The engineer approves the day after the request; the approval watcher promotes within minutes,
        # before the day's batch lands and is scored.
        if approve_requested(config, day, by="benchmark operator"):
            tasks.promote(day)
        run_day(config, day)
    log = decisions.read_decisions(lake)
    served = served_auc(lake, config, days)
    compared = {"modelguard": served, **baselines(config, lake, stream, schedule, days, seed)}
    drift_day = next((i["batch_id"] for i in schedule["incidents"] if i["kind"] == "concept_drift"), None)
    first_labels = (dt.date.fromisoformat(drift_day) + dt.timedelta(days=stream.label_delay_days)).isoformat() \
        if drift_day else None
    drift_phase = phases(schedule, days)["concept drift"]
    requests = [e for e in log if e["action"] == "request_approval" and e["batch_id"] in drift_phase]
    repairing = [e for e in requests if e.get("repairs") == "yes"]
    flagged = {e["model_version"]: bool(e.get("partial_fix")) for e in requests}
    versions = {v.version: v for v in Registry(config).versions()}
    promoted = [e for e in log if e["action"] == "promote" and e["batch_id"] in drift_phase]
    unflagged = [e["model_version"] for e in promoted
                 if versions[e["model_version"]].tags.get("repairs") != "yes" and not flagged.get(e["model_version"])]
    quarantined = {e["batch_id"] for e in log if e["action"] == "quarantine_batch"}
    # Training reads only validated/ batches: a quarantined batch that is there (without a release) leaked.
    released = {e["batch_id"] for e in log if e["dag_id"] == "modelguard_release" and e["action"] == "accept_batch"}
    leaked = sum(1 for d in quarantined - released if lake.validated("batches", d).exists())
    matched = match_incidents(schedule, log)

    def mean(auc: dict, ds: list[str]) -> float:
        return float(np.nanmean([auc[d] for d in ds if d in auc])) if any(d in auc for d in ds) else float("nan")

    return {
        "phases": {name: {method: mean(auc, ds) for method, auc in compared.items()}
                   for name, ds in phases(schedule, days).items()},
        "days_to_request": (dt.date.fromisoformat(requests[0]["batch_id"]) - dt.date.fromisoformat(first_labels)).days
        if requests else None,
        "days_to_repair": (dt.date.fromisoformat(repairing[0]["batch_id"]) - dt.date.fromisoformat(first_labels)).days
        if repairing else None,
        "quiet_day_actions": len(quiet_day_actions(schedule, log)),
        "unflagged_partial_promotions": len(unflagged),
        "incidents_met": f"{sum(r['met'] for r in matched)}/{len(matched)}",
        "leaked_batches": leaked,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", nargs="+", choices=sorted(STREAMS), default=["fraud", "loans"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--days", type=int, default=None, help="timeline length (default: fraud 60, loans 40)")
    parser.add_argument("--rows", type=int, default=5000, help="rows a day (the demo's 5000)")
    args = parser.parse_args()
    methods = ["modelguard", "never retrain", "weekly retrain", "oracle", "lag bound"]
    for name in args.streams:
        stream = STREAMS[name]
        days = args.days or (60 if name == "fraud" else 40)
        results = []
        print(f"\n=== stream {stream.name}: {days} days, {args.rows} rows a day, labels {stream.label_delay_days} "
              f"days late ===", flush=True)
        for seed in range(args.seeds):
            started = time.perf_counter()
            results.append(run_seed(stream, seed, days, args.rows))
            r = results[-1]
            print(f"seed {seed}: {time.perf_counter() - started:.0f} s, incidents met {r['incidents_met']}, days from "
                  f"first drifted labels to a request {r['days_to_request']}, to a repairing request "
                  f"{r['days_to_repair']}, quiet-day actions {r['quiet_day_actions']}, leaked batches "
                  f"{r['leaked_batches']}", flush=True)
        print(f"served AUC per phase, mean over {args.seeds} seeds")
        print(f"{'phase':<16}" + "".join(f"{m:>16}" for m in methods) + f"{'ours/oracle':>13}{'ours/bound':>12}")
        for phase in ("before drift", "concept drift", "after reversal"):
            if all(r["phases"][phase]["modelguard"] != r["phases"][phase]["modelguard"] for r in results):
                continue  # this stream has no such phase
            values = {m: np.nanmean([r["phases"][phase][m] for r in results]) for m in methods}
            print(f"{phase:<16}" + "".join(f"{values[m]:>16.3f}" for m in methods)
                  + f"{values['modelguard'] / values['oracle']:>13.0%}{values['modelguard'] / values['lag bound']:>12.0%}")
        print(f"days from the first drifted labels to the first request: {[r['days_to_request'] for r in results]}; "
              f"to the first request of a challenger that repairs: {[r['days_to_repair'] for r in results]} (goal <= 1)")
        print(f"alerts/registry actions on quiet days: {[r['quiet_day_actions'] for r in results]} (goal 0)")
        print(f"promotions of non-repairing challengers without the partial-fix flag: "
              f"{sum(r['unflagged_partial_promotions'] for r in results)} (goal 0)")
        print(f"quarantined batches that reached training: {sum(r['leaked_batches'] for r in results)} (must be 0)")


if __name__ == "__main__":
    main()

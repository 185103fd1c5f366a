"""Decision quality: what modelguard serves through a simulated timeline, against three baselines.

    .venv/bin/python benchmarks/decision_bench.py [--seeds 3] [--days 60] [--rows 2000]

For each seed it simulates the 60-day script (data incidents, covariate drift, concept drift, a
reversal), runs the daily cycle with the same stage functions the DAG tasks call (in process, in
DAG order, without the scheduler: this measures decisions, not Airflow), with a simulated engineer
approving requests the next day, and compares the AUC of the served predictions per phase with:
- never-retrain: the first champion forever;
- weekly retrain: every 7 days, a model trained on the last 10 labelled days, promoted blindly;
- oracle: a model trained on fresh data of the concept in force that day.
It also prints days from drift start to request_approval, registry actions on quiet days, and
rows of quarantined batches that reached any training set (must be 0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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
from modelguard.report import match_incidents, quiet_day_actions
from modelguard.simulate import (
    Incident,
    concept_on,
    default_incidents,
    deliver_labels,
    label_rows,
    simulate,
    transactions,
)
from modelguard.storage import Lake

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


def baselines(config, lake: Lake, schedule: dict, days: list[str], seed: int) -> dict[str, dict[str, float]]:
    incidents = [Incident(**{k: v for k, v in i.items() if k != "batch_id"}) for i in schedule["incidents"]]
    reference = pd.read_parquet(lake.reference_train)
    first = model.fit(config.model, reference)
    rng = np.random.default_rng(seed + 1000)
    oracles = {}
    never, weekly, oracle = {}, {}, {}
    current = first
    for index, day in enumerate(days):
        batch_path = lake.validated("batches", day)
        if not batch_path.exists():
            continue
        batch = pd.read_parquet(batch_path)
        labels = pd.read_parquet(lake.root / "simulation" / "labels" / f"{day}.parquet")
        frame = batch.merge(labels, on=config.model.id_column)
        y = frame[config.model.target]
        never[day] = model.fast_auc(y, model.predict_scores(first, config.model, frame))
        if index % 7 == 0 and index >= 10:
            window = [d for d in days[max(0, index - 13):index - 3] if lake.validated("batches", d).exists()]
            train = pd.concat([pd.read_parquet(lake.validated("batches", d)).merge(
                pd.read_parquet(lake.root / "simulation" / "labels" / f"{d}.parquet"), on=config.model.id_column)
                for d in window])
            current = model.fit(config.model, train)
        weekly[day] = model.fast_auc(y, model.predict_scores(current, config.model, frame))
        concept = concept_on(index, incidents)
        if concept not in oracles:
            fresh = transactions(rng, 20_000, dt.date.fromisoformat(day), 0)
            fresh[config.model.target] = label_rows(rng, fresh, concept)
            oracles[concept] = model.fit(config.model, fresh)
        oracle[day] = model.fast_auc(y, model.predict_scores(oracles[concept], config.model, frame))
    return {"never retrain": never, "weekly retrain": weekly, "oracle": oracle}


def phases(schedule: dict, days: list[str]) -> dict[str, list[str]]:
    by_kind = {i["kind"]: i["batch_id"] for i in schedule["incidents"]}
    drift, reversal = by_kind.get("concept_drift"), by_kind.get("reversal")
    return {
        "before drift": [d for d in days if drift is None or d < drift],
        "concept drift": [d for d in days if drift and d >= drift and (reversal is None or d < reversal)],
        "after reversal": [d for d in days if reversal and d >= reversal],
    }


def run_seed(seed: int, days_count: int, rows: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"decision-bench-{seed}-"))
    config_file = folder / "pipeline.yaml"
    data = yaml.safe_load((PROJECT / "include" / "config" / "pipeline.yaml").read_text())
    data["storage"] = {"root": "lake"}
    data["mlflow"] = {"tracking_uri": "sqlite:///mlflow.db", "experiment": "modelguard"}
    config_file.write_text(yaml.safe_dump(data))
    os.environ["MODELGUARD_CONFIG"] = str(config_file)
    config = load_config(config_file)
    lake = Lake(config.storage_root)
    schedule = simulate(lake.root, days=days_count, rows=rows, seed=seed, incidents=default_incidents(days_count))
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
    compared = {"modelguard": served, **baselines(config, lake, schedule, days, seed)}
    drift_day = next((i["batch_id"] for i in schedule["incidents"] if i["kind"] == "concept_drift"), None)
    requested = [e["batch_id"] for e in log if e["action"] == "request_approval" and drift_day and e["batch_id"] >= drift_day]
    quarantined = {e["batch_id"] for e in log if e["action"] == "quarantine_batch"}
    # Training reads only validated/ batches: a quarantined batch that is there (without a release) leaked.
    released = {e["batch_id"] for e in log if e["dag_id"] == "modelguard_release" and e["action"] == "accept_batch"}
    leaked = sum(1 for d in quarantined - released if lake.validated("batches", d).exists())
    matched = match_incidents(schedule, log)
    drift_phase = phases(schedule, days)["concept drift"]
    promoted = [e["batch_id"] for e in log if e["action"] == "promote" and e["batch_id"] in drift_phase]
    after_response = [d for d in drift_phase if promoted and d > promoted[0]]
    return {
        "after_response": {method: float(np.nanmean([auc[d] for d in after_response if d in auc]))
                           if after_response else float("nan") for method, auc in compared.items()},
        "phases": {name: {method: float(np.nanmean([auc[d] for d in ds if d in auc])) if any(d in auc for d in ds)
                          else float("nan") for method, auc in compared.items()}
                   for name, ds in phases(schedule, days).items()},
        "days_to_request": (dt.date.fromisoformat(requested[0]) - dt.date.fromisoformat(drift_day)).days
        if requested else None,
        "quiet_day_actions": len(quiet_day_actions(schedule, log)),
        "incidents_met": f"{sum(r['met'] for r in matched)}/{len(matched)}",
        "leaked_batches": leaked,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    results = []
    for seed in range(args.seeds):
        started = time.perf_counter()
        results.append(run_seed(seed, args.days, args.rows))
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s, incidents met {results[-1]['incidents_met']}, "
              f"days to request_approval {results[-1]['days_to_request']}, quiet-day actions "
              f"{results[-1]['quiet_day_actions']}, leaked batches {results[-1]['leaked_batches']}")
    methods = ["modelguard", "never retrain", "weekly retrain", "oracle"]
    print(f"\nserved AUC per phase, mean over {args.seeds} seeds")
    print(f"{'phase':<16}" + "".join(f"{m:>16}" for m in methods) + f"{'ours/oracle':>14}")
    for phase in ("before drift", "concept drift", "after reversal"):
        values = {m: np.nanmean([r["phases"][phase][m] for r in results]) for m in methods}
        print(f"{phase:<16}" + "".join(f"{values[m]:>16.3f}" for m in methods)
              + f"{values['modelguard'] / values['oracle']:>13.0%}")
    values = {m: np.nanmean([r["after_response"][m] for r in results]) for m in methods}
    print(f"{'drift, promoted':<16}" + "".join(f"{values[m]:>16.3f}" for m in methods)
          + f"{values['modelguard'] / values['oracle']:>13.0%}   (days of the drift phase after the first promotion)")
    print(f"\ndays from drift to request_approval: {[r['days_to_request'] for r in results]}")
    print(f"alerts/registry actions on quiet days: {[r['quiet_day_actions'] for r in results]} (goal 0)")
    print(f"quarantined batches that reached training: {sum(r['leaked_batches'] for r in results)} (must be 0)")


if __name__ == "__main__":
    main()

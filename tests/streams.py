"""Two synthetic data streams on schemas unlike the demo's, for end-to-end replays.

Each writes the lake layout `modelguard.simulate.simulate` writes: `reference/train.parquet`, one
`landing/batches/<batch_id>.*` per day, the day's labels held back in `simulation/labels/<batch_id>.parquet`
and `simulation/schedule.json`, so that `deliver_labels` and `modelguard replay` work unchanged.

- `regression_stream`: Friedman #1 regression, numeric only, no timestamp, parquet batches.
- `multiclass_stream`: loan grades 0/1/2 from a multinomial logit, a zone-aware timestamp, integer-coded,
  boolean and text categoricals, a nullable integer feature, CSV batches.

Both script pure concept drift from `drift_day` on (the features' distributions stay the same, only the
target's relationship to them changes) and one batch on `incident_day` that validation must quarantine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelguard.simulate import Incident, batch_id_of
from modelguard.storage import Lake

REFERENCE_DAYS = 14  # as simulate.py: two weeks of labelled history before the first batch

REGRESSION_FEATURES = [f"x{i}" for i in range(10)]
REGRESSION_MODEL: dict[str, Any] = {
    "name": "friedman_regressor",
    "task": "regression",
    "target": "y",
    "id_column": "row_id",
    "timestamp_column": None,
    "features": {"numeric": REGRESSION_FEATURES, "categorical": []},
    "segments": [],
}

REGIONS, REGION_WEIGHTS = [11, 12, 13, 20, 31], [0.3, 0.25, 0.2, 0.15, 0.1]
# An upstream switch to another code list: every code is new to the reference.
RECODED_REGIONS = {11: 1101, 12: 1201, 13: 1301, 20: 2001, 31: 3101}
PURPOSES = ["car", "home", "education", "business", "medical", "debt_consolidation"]
PURPOSE_WEIGHTS = [0.25, 0.2, 0.1, 0.15, 0.1, 0.2]
APPLICANT_ZONE = "Europe/Berlin"  # timestamps arrive with this zone's offset; batch days are UTC days
MULTICLASS_MODEL: dict[str, Any] = {
    "name": "loan_grader",
    "task": "multiclass_classification",
    "target": "grade",
    "id_column": "loan_id",
    "timestamp_column": "applied_at",
    "features": {"numeric": ["income", "debt_ratio", "age"],
                 "categorical": ["region_code", "has_guarantor", "purpose"]},
    "segments": ["has_guarantor"],
}

# kind -> (expected response, description, duration_days), as simulate.INCIDENT_KINDS
INCIDENTS: dict[str, tuple[str, str, int]] = {
    "concept_drift": ("request_approval", "the target's relationship to the features changes; features do not", 0),
    "null_feature": ("quarantine_batch", "sensor outage: x2 arrives entirely null", 1),
    "region_recoded": ("quarantine_batch", "upstream switched region_code to a new code list (all codes unseen)", 1),
}


def _incident(kind: str, day: int) -> Incident:
    response, description, duration = INCIDENTS[kind]
    return Incident(day=day, kind=kind, expected_response=response, description=description, duration_days=duration)


def _schedule(lake: Lake, start: dt.date, days: int, rows: int, label_delay_days: int, seed: int,
              incidents: list[Incident]) -> dict:
    """`simulation/schedule.json`, keyed exactly as simulate.py writes it (deliver_labels and the story read it)."""
    schedule = {
        "start": start.isoformat(),
        "days": days,
        "rows_per_day": rows,
        "label_delay_days": label_delay_days,
        "seed": seed,
        "incidents": [{**asdict(item), "batch_id": batch_id_of(start, item.day)}
                      for item in sorted(incidents, key=lambda i: i.day)],
    }
    lake.write_json(schedule, lake.simulation_dir / "schedule.json")
    return schedule


def _plan(drift_day: int | None, incident_day: int | None, incident_kind: str) -> list[Incident]:
    plan = []
    if drift_day is not None:
        plan.append(_incident("concept_drift", drift_day))
    if incident_day is not None:
        plan.append(_incident(incident_kind, incident_day))
    return plan


def _labels_path(lake: Lake, batch_id: str) -> Path:
    return lake.simulation_dir / "labels" / f"{batch_id}.parquet"


# --- regression: Friedman #1 ---------------------------------------------------------------------
def friedman_target(features: pd.DataFrame, drifted: bool, noise: np.ndarray) -> np.ndarray:
    """make_friedman1's formula, written out so the drift is ours to choose. After the drift the interaction
    doubles and x3's effect flips sign: a model of the old concept is badly wrong, yet no input moved."""
    x = {c: features[c].to_numpy() for c in REGRESSION_FEATURES[:5]}
    interaction = np.sin(np.pi * x["x0"] * x["x1"])
    if drifted:
        return 20 * interaction + 20 * (x["x2"] - 0.5) ** 2 - 10 * x["x3"] + 5 * x["x4"] + noise
    return 10 * interaction + 20 * (x["x2"] - 0.5) ** 2 + 10 * x["x3"] + 5 * x["x4"] + noise


def _regression_rows(rng: np.random.Generator, n: int, first_id: int, drifted: bool) -> pd.DataFrame:
    # x5..x9 are pure noise inputs, as in make_friedman1
    frame = pd.DataFrame(rng.random((n, len(REGRESSION_FEATURES))), columns=REGRESSION_FEATURES)
    frame.insert(0, "row_id", np.arange(first_id, first_id + n, dtype="int64"))
    frame["y"] = friedman_target(frame, drifted, rng.normal(0.0, 1.0, n))
    return frame


def regression_stream(
    root: str | Path,
    *,
    start: dt.date = dt.date(2026, 9, 1),
    days: int,
    rows: int = 2000,
    reference_rows: int = 6000,
    seed: int = 7,
    drift_day: int | None = None,
    incident_day: int | None = None,
    label_delay_days: int = 2,
) -> dict:
    """Write a Friedman #1 regression stream (parquet batches) into the lake at `root`; returns the schedule.

    Concept drift from `drift_day` on; on `incident_day` column x2 arrives all null (`null_feature`).
    """
    lake = Lake(root)
    rng = np.random.default_rng(seed)
    reference = _regression_rows(rng, reference_rows, 0, drifted=False)
    lake.write_parquet(reference, lake.reference_train)
    next_id = reference_rows  # ids are unique over the whole stream, reference included
    for day in range(days):
        batch_id = batch_id_of(start, day)
        frame = _regression_rows(rng, rows, next_id, drifted=drift_day is not None and day >= drift_day)
        next_id += rows
        labels = frame[["row_id", "y"]]
        batch = frame.drop(columns="y")
        if day == incident_day:
            # All null: the not-null check (mostly 0.95) and the distinct-count check (>= 2) are both critical.
            batch["x2"] = np.nan
        lake.write_parquet(batch, lake.root / "landing" / "batches" / f"{batch_id}.parquet")
        lake.write_parquet(labels, _labels_path(lake, batch_id))
    return _schedule(lake, start, days, rows, label_delay_days, seed,
                     _plan(drift_day, incident_day, "null_feature"))


# --- multiclass: loan grades ---------------------------------------------------------------------
INCOME_MEDIAN, INCOME_SIGMA = 45_000.0, 0.5


def _applicants(rng: np.random.Generator, n: int, day: dt.date, first_id: int) -> pd.DataFrame:
    # Instants spread over the UTC day (the batch day with the default schedule timezone), shown in Berlin time.
    seconds = np.sort(rng.integers(0, 86_400, n))
    applied = (pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s")).tz_convert(APPLICANT_ZONE)
    age = pd.array(rng.normal(41, 12, n).clip(18, 80).round().astype("int64"), dtype="Int64")
    age[rng.random(n) < 0.03] = pd.NA  # a few applicants without an age: why the column is nullable Int64
    return pd.DataFrame({
        "loan_id": [f"L{i:06d}" for i in range(first_id, first_id + n)],
        "applied_at": applied,
        "income": np.round(rng.lognormal(np.log(INCOME_MEDIAN), INCOME_SIGMA, n), 2),
        "debt_ratio": np.round(rng.beta(2, 5, n), 4),
        "age": age,
        "region_code": rng.choice(REGIONS, n, p=REGION_WEIGHTS).astype("int64"),
        "has_guarantor": rng.random(n) < 0.3,
        "purpose": rng.choice(PURPOSES, n, p=PURPOSE_WEIGHTS).astype(object),
    })


def grade_risk(frame: pd.DataFrame, drifted: bool) -> np.ndarray:
    """A borrower's risk score; grades are drawn from a multinomial logit of it. After the drift income
    raises risk instead of lowering it (the market turned), with every input distributed as before."""
    income = (np.log(frame["income"].to_numpy()) - np.log(INCOME_MEDIAN)) / INCOME_SIGMA
    debt = (frame["debt_ratio"].to_numpy() - 2 / 7) / 0.16
    age = ((frame["age"].astype("float64") - 41) / 12).fillna(0.0).to_numpy()
    region = frame["region_code"].map({11: -0.3, 31: 0.5}).fillna(0.0).to_numpy()
    purpose = frame["purpose"].map({"business": 0.4, "medical": 0.3, "home": -0.3}).fillna(0.0).to_numpy()
    guarantor = frame["has_guarantor"].to_numpy(dtype=float)
    income_effect = 1.8 if drifted else -1.8
    return income_effect * income + 0.8 * debt - 0.3 * age - 0.6 * guarantor + region + purpose


def draw_grades(rng: np.random.Generator, frame: pd.DataFrame, drifted: bool) -> np.ndarray:
    """Grade 0 (good), 1, 2 (poor) from a multinomial logit: class 0 is the baseline, higher risk favours 1, then 2."""
    risk = grade_risk(frame, drifted)
    logits = np.column_stack([np.zeros_like(risk), 0.5 + 1.5 * risk, -0.8 + 3.0 * risk])
    probability = np.exp(logits - logits.max(axis=1, keepdims=True))
    probability /= probability.sum(axis=1, keepdims=True)
    # inverse-CDF draw per row
    return (rng.random(len(risk))[:, None] > probability.cumsum(axis=1)).sum(axis=1).clip(0, 2).astype("int64")


def to_csv_text(frame: pd.DataFrame) -> str:
    """A batch as its upstream would send it: ISO timestamps with their UTC offset (read back as instants),
    booleans as True/False, missing values as empty fields."""
    frame = frame.copy()
    frame["applied_at"] = frame["applied_at"].map(lambda t: t.isoformat())
    return frame.to_csv(index=False)


def multiclass_stream(
    root: str | Path,
    *,
    start: dt.date = dt.date(2026, 9, 1),
    days: int,
    rows: int = 2000,
    reference_rows: int = 6000,
    seed: int = 7,
    drift_day: int | None = None,
    incident_day: int | None = None,
    label_delay_days: int = 2,
) -> dict:
    """Write a loan-grade stream (CSV batches, parquet reference and labels) into the lake at `root`; returns
    the schedule. Concept drift from `drift_day` on; on `incident_day` region_code arrives recoded
    (`region_recoded`)."""
    lake = Lake(root)
    rng = np.random.default_rng(seed)
    per_day = max(1, reference_rows // REFERENCE_DAYS)
    parts, next_id = [], 0
    for offset in range(REFERENCE_DAYS, 0, -1):
        part = _applicants(rng, per_day, start - dt.timedelta(days=offset), next_id)
        next_id += per_day
        part["grade"] = draw_grades(rng, part, drifted=False)
        parts.append(part)
    lake.write_parquet(pd.concat(parts, ignore_index=True), lake.reference_train)
    for day in range(days):
        batch_id = batch_id_of(start, day)
        frame = _applicants(rng, rows, dt.date.fromisoformat(batch_id), next_id)
        next_id += rows
        labels = pd.DataFrame({"loan_id": frame["loan_id"],
                               "grade": draw_grades(rng, frame, drifted=drift_day is not None and day >= drift_day)})
        if day == incident_day:
            # Still integer codes (the type check passes), but 100% unseen: over max_unseen_share (0.5), critical.
            frame["region_code"] = frame["region_code"].map(RECODED_REGIONS).astype("int64")
        lake.write_text(to_csv_text(frame), lake.root / "landing" / "batches" / f"{batch_id}.csv")
        lake.write_parquet(labels, _labels_path(lake, batch_id))
    return _schedule(lake, start, days, rows, label_delay_days, seed,
                     _plan(drift_day, incident_day, "region_recoded"))


# --- a lake ready for replay -------------------------------------------------------------------
STREAMS = {"regression": (regression_stream, REGRESSION_MODEL), "multiclass": (multiclass_stream, MULTICLASS_MODEL)}


def stream_lake(folder: Path, kind: str, days: int, rows: int = 2000, *, sections: dict | None = None,
                **stream_kwargs: Any) -> tuple[Any, dict[str, str]]:
    """As conftest's `simulated_lake`, for a stream `kind` ("regression" or "multiclass"): a config in `folder`
    (extra top-level `sections` merged in), the stream's lake, the first champion registered, and the
    environment for CLI subprocesses. `stream_kwargs` go to the generator (drift_day, incident_day, ...)."""
    from modelguard.bootstrap import initialise
    from modelguard.config import load_config
    from tests.conftest import cli_env, write_config

    generate, model = STREAMS[kind]
    config_file = write_config(folder, model=model, **(sections or {}))
    config = load_config(config_file)
    generate(config.storage_root, days=days, rows=rows, **stream_kwargs)
    initialise(config)
    # loaded again, as every command and task does: a multiclass model's classes come from init's profile
    return load_config(config_file), cli_env(config_file, folder / "airflow")

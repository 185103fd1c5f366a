"""The timelines the decision bench runs the pipeline through: each a schema, a generator of days under a
concept, a label delay and a script of incidents with the response each calls for.

- `fraud`: the demo's card-fraud stream (`modelguard.simulate`): labels 3 days late; a schema change, a
  null storm and a unit change (data incidents), a marketing campaign (covariate drift), fraudsters
  switching to card testing (concept drift: the old signal reverses) and the reversal of that switch.
- `loans`: a loan-default stream of our own design, unlike the demo's: labels 2 days late, one in ten
  applicants defaults, a credit-bureau outage (data incident) and a regional downturn (concept drift in
  which part of the old signal still holds: credit scores matter less, employment and region more).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelguard import simulate as fraud
from modelguard.storage import Lake

START = dt.date(2026, 9, 1)


@dataclass(frozen=True)
class Stream:
    name: str
    model: dict | None  # the config's `model:` section; None: the demo's own config
    label_delay_days: int
    write: Callable[[Path, int, int, int], dict]  # (lake root, days, rows, seed) -> schedule
    fresh: Callable[[np.random.Generator, int, dt.date, str], pd.DataFrame]  # rows with their target
    concept_on: Callable[[int, dict], str]  # (day index, schedule) -> concept in force


# --- fraud: the demo's stream -------------------------------------------------------------------
def _fraud_write(root: Path, days: int, rows: int, seed: int) -> dict:
    return fraud.simulate(root, days=days, rows=rows, seed=seed, incidents=fraud.default_incidents(days))


def _fraud_fresh(rng: np.random.Generator, n: int, day: dt.date, concept: str) -> pd.DataFrame:
    frame = fraud.transactions(rng, n, day, 0)
    frame["is_fraud"] = fraud.label_rows(rng, frame, concept)
    return frame


def _fraud_concept(index: int, schedule: dict) -> str:
    incidents = [fraud.Incident(**{k: v for k, v in i.items() if k != "batch_id"}) for i in schedule["incidents"]]
    return fraud.concept_on(index, incidents)


FRAUD = Stream("fraud (demo)", None, fraud.LABEL_DELAY_DAYS, _fraud_write, _fraud_fresh, _fraud_concept)


# --- loans: a stream of our own design ---------------------------------------------------------------
PURPOSES, PURPOSE_WEIGHTS = ["debt_consolidation", "home", "car", "education", "business"], [0.4, 0.2, 0.2, 0.1, 0.1]
HOMES, HOME_WEIGHTS = ["rent", "own", "mortgage"], [0.45, 0.15, 0.4]
REGIONS, REGION_WEIGHTS = ["north", "south", "east", "west", "central"], [0.2, 0.25, 0.2, 0.2, 0.15]
TERMS = ["36m", "60m"]
DEFAULT_RATE = 0.1
LOAN_MODEL = {
    "name": "loan_default", "task": "binary_classification", "target": "defaulted", "id_column": "application_id",
    "timestamp_column": "applied_at", "decision_threshold": 0.3, "segments": ["region"],
    "features": {"numeric": ["income", "debt_to_income", "credit_score", "loan_amount", "employment_years",
                             "open_accounts", "utilization"],
                 "categorical": ["purpose", "home_ownership", "region", "term"]},
}


def applications(rng: np.random.Generator, n: int, day: dt.date) -> pd.DataFrame:
    seconds = np.sort(rng.integers(0, 86_400, n))
    income = np.round(rng.lognormal(10.9, 0.5, n), -2)
    return pd.DataFrame({
        "application_id": [f"app-{day:%Y%m%d}-{i:06d}" for i in range(n)],
        "applied_at": pd.Timestamp(day) + pd.to_timedelta(seconds, unit="s"),
        "income": income,
        "debt_to_income": np.round(rng.beta(2, 5, n) * 0.8, 3),
        "credit_score": rng.normal(690, 60, n).clip(300, 850).round(),
        "loan_amount": np.round(income * rng.uniform(0.05, 0.6, n), -2),
        "employment_years": rng.gamma(1.6, 3.0, n).round(1),
        "open_accounts": rng.poisson(6, n).astype("int64"),
        "utilization": np.round(rng.beta(2, 3, n), 3),
        "purpose": rng.choice(PURPOSES, n, p=PURPOSE_WEIGHTS),
        "home_ownership": rng.choice(HOMES, n, p=HOME_WEIGHTS),
        "region": rng.choice(REGIONS, n, p=REGION_WEIGHTS),
        "term": rng.choice(TERMS, n, p=[0.7, 0.3]),
    })


def _loan_risk(frame: pd.DataFrame, concept: str) -> np.ndarray:
    burden = frame["loan_amount"] / frame["income"]
    score = (frame["credit_score"] - 690) / 60
    long_term = (frame["term"] == "60m").astype(float)
    business = (frame["purpose"] == "business").astype(float)
    if concept == "steady":
        return (-1.1 * score + 3.0 * frame["debt_to_income"] + 1.6 * frame["utilization"] + 2.0 * burden
                + 0.5 * long_term + 0.6 * business - 0.04 * frame["employment_years"])
    # downturn: lay-offs in two regions and among short tenures; scores matter less, burden more
    shocked = frame["region"].isin(["south", "west"]).astype(float)
    return (-0.4 * score + 1.5 * frame["debt_to_income"] + 4.0 * burden + 1.4 * shocked
            - 0.3 * frame["employment_years"] + 1.2 * business + 0.3 * (frame["home_ownership"] == "rent"))


def _loan_labels(rng: np.random.Generator, frame: pd.DataFrame, concept: str) -> np.ndarray:
    return fraud.draw_labels(rng, _loan_risk(frame, concept).to_numpy(), DEFAULT_RATE)


LOAN_INCIDENTS = {  # kind -> (day of a 40-day timeline, expected response, description, duration)
    "null_storm": (7, "quarantine_batch", "credit bureau outage: credit_score missing for most applicants", 1),
    "concept_drift": (16, "request_approval", "regional downturn: lay-offs drive defaults, scores matter less", 0),
}


def _loan_concept(index: int, schedule: dict) -> str:
    drift = next((i["day"] for i in schedule["incidents"] if i["kind"] == "concept_drift"), None)
    return "downturn" if drift is not None and index >= drift else "steady"


def _loan_write(root: Path, days: int, rows: int, seed: int) -> dict:
    lake = Lake(root)
    rng = np.random.default_rng(seed)
    incidents = [{"day": round(day * days / 40), "kind": kind, "expected_response": response,
                  "description": text, "duration_days": duration}
                 for kind, (day, response, text, duration) in LOAN_INCIDENTS.items() if round(day * days / 40) < days]
    schedule = {"start": START.isoformat(), "days": days, "rows_per_day": rows, "label_delay_days": 2, "seed": seed,
                "incidents": [{**i, "batch_id": (START + dt.timedelta(days=i["day"])).isoformat()} for i in incidents]}
    reference = []
    for offset in range(14, 0, -1):
        part = applications(rng, 3000, START - dt.timedelta(days=offset))
        part["defaulted"] = _loan_labels(rng, part, "steady")
        reference.append(part)
    lake.write_parquet(pd.concat(reference, ignore_index=True), lake.reference_train)
    for index in range(days):
        day = START + dt.timedelta(days=index)
        frame = applications(rng, rows, day)
        labels = pd.DataFrame({"application_id": frame["application_id"],
                               "defaulted": _loan_labels(rng, frame, _loan_concept(index, schedule))})
        if any(i["kind"] == "null_storm" and i["day"] == index for i in incidents):
            frame.loc[rng.random(len(frame)) < 0.7, "credit_score"] = np.nan
        lake.write_parquet(frame, lake.root / "landing" / "batches" / f"{day}.parquet")
        lake.write_parquet(labels, lake.simulation_dir / "labels" / f"{day}.parquet")
    lake.write_json(schedule, lake.simulation_dir / "schedule.json")
    return schedule


def _loan_fresh(rng: np.random.Generator, n: int, day: dt.date, concept: str) -> pd.DataFrame:
    frame = applications(rng, n, day)
    frame["defaulted"] = _loan_labels(rng, frame, concept)
    return frame


LOANS = Stream("loans", LOAN_MODEL, 2, _loan_write, _loan_fresh, _loan_concept)
STREAMS = {"fraud": FRAUD, "loans": LOANS}

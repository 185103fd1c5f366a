"""A realistic card-transaction fraud stream with the incidents of the field guide scripted in.

`simulate()` writes into a lake: `reference/train.parquet` (labelled history the first champion is
trained on), one `landing/batches/<batch_id>.parquet` per day, the labels of each day under
`simulation/labels/` (replay delivers them to `landing/labels/` `label_delay_days` later, as a
labelling team would) and `simulation/schedule.json`: the ground-truth incident schedule (day,
kind, expected response) that tests and the demo story read.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelguard.storage import Lake

MERCHANT_CATEGORIES = ["grocery", "electronics", "travel", "restaurants", "fuel", "fashion", "gaming", "pharmacy"]
CATEGORY_WEIGHTS = [0.25, 0.10, 0.07, 0.18, 0.12, 0.12, 0.06, 0.10]
CHANNELS, CHANNEL_WEIGHTS = ["pos", "online", "atm"], [0.55, 0.38, 0.07]
COUNTRIES, COUNTRY_WEIGHTS = ["US", "GB", "DE", "FR", "CA", "MX", "BR", "IN"], [0.55, 0.1, 0.08, 0.07, 0.08, 0.05, 0.04, 0.03]
DEVICES, DEVICE_WEIGHTS = ["mobile", "desktop", "tablet", "terminal"], [0.45, 0.2, 0.07, 0.28]
CARD_TYPES, CARD_WEIGHTS = ["debit", "credit", "prepaid"], [0.5, 0.42, 0.08]
FRAUD_RATE = 0.02
LABEL_DELAY_DAYS = 3


@dataclass(frozen=True)
class Incident:
    day: int  # 0-based day of the timeline
    kind: str
    expected_response: str
    description: str
    duration_days: int = 1  # days the incident lasts; concept changes last until the next one


# What each scripted incident looks like and what the pipeline should do about it.
INCIDENT_KINDS: dict[str, tuple[str, str, int]] = {
    "schema_change": ("quarantine_batch", "upstream renamed merchant_category and added promo_code_id", 1),
    "null_storm": ("quarantine_batch", "profile service failing: customer fields mostly null", 1),
    "unit_change": ("quarantine_batch", "amounts sent in cents instead of dollars", 1),
    "new_category": ("drift_alert", "marketing campaign floods merchant_category 'artisanal_crafts'", 4),
    "concept_drift": ("request_approval", "fraudsters switch to small, local, rapid card-testing", 0),
    "reversal": ("rollback", "fraud tactics revert: the newly promoted model is now worse", 0),
}


def default_incidents(days: int) -> list[Incident]:
    """The 60-day script of the demo, stretched or squeezed to `days`."""
    plan = [("schema_change", 9), ("null_storm", 15), ("unit_change", 20), ("new_category", 24),
            ("concept_drift", 31), ("reversal", 47)]
    return [incident(kind, round(day * days / 60)) for kind, day in plan if round(day * days / 60) < days]


def incident(kind: str, day: int) -> Incident:
    if kind not in INCIDENT_KINDS:
        raise ValueError(f"unknown incident kind {kind!r}; known: {', '.join(INCIDENT_KINDS)}")
    response, description, duration = INCIDENT_KINDS[kind]
    return Incident(day=day, kind=kind, expected_response=response, description=description, duration_days=duration)


def parse_incident(spec: str) -> Incident:
    """`kind@day`, e.g. `null_storm@4`."""
    kind, _, day = spec.partition("@")
    if not day.isdigit():
        raise ValueError(f"incident must look like kind@day, got {spec!r}")
    return incident(kind, int(day))


# --- the population ---------------------------------------------------------------------------
def transactions(rng: np.random.Generator, n: int, day: dt.date, start_id: int) -> pd.DataFrame:
    seconds = np.sort(rng.integers(0, 86_400, n))
    hour = seconds // 3600
    avg_amount = np.round(rng.lognormal(3.6, 0.6, n), 2)
    amount = np.round(avg_amount * rng.lognormal(0.0, 0.7, n), 2)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx-{day:%Y%m%d}-{i:07d}" for i in range(start_id, start_id + n)],
            "event_time": pd.Timestamp(day) + pd.to_timedelta(seconds, unit="s"),
            "amount": amount,
            "hour": hour.astype("int64"),
            "customer_age": rng.normal(42, 13, n).clip(18, 95).round().astype("float64"),
            "account_age_days": rng.gamma(2.0, 400, n).round().astype("float64"),
            "tx_count_24h": rng.poisson(2.5, n).astype("int64"),
            "distance_from_home_km": np.round(rng.lognormal(1.8, 1.2, n), 2),
            "merchant_risk_score": np.round(rng.beta(2, 8, n), 4),
            "avg_amount_30d": avg_amount,
            "merchant_category": rng.choice(MERCHANT_CATEGORIES, n, p=CATEGORY_WEIGHTS),
            "channel": rng.choice(CHANNELS, n, p=CHANNEL_WEIGHTS),
            "country": rng.choice(COUNTRIES, n, p=COUNTRY_WEIGHTS),
            "device_type": rng.choice(DEVICES, n, p=DEVICE_WEIGHTS),
            "card_type": rng.choice(CARD_TYPES, n, p=CARD_WEIGHTS),
        }
    )
    return frame


def _risk(frame: pd.DataFrame, concept: str) -> np.ndarray:
    """The true log-odds of fraud (up to an intercept) under a concept."""
    amount_ratio = np.log(frame["amount"] / frame["avg_amount_30d"])
    night = frame["hour"].between(0, 5).astype(float)
    distance = np.log1p(frame["distance_from_home_km"])
    foreign = (frame["country"] != "US").astype(float)
    new_account = -np.log1p(frame["account_age_days"]) + 6.0
    online = (frame["channel"] == "online").astype(float)
    if concept == "original":  # big, far, at night, risky merchants
        return (1.6 * amount_ratio + 1.4 * night + 0.7 * distance + 0.8 * foreign
                + 5.0 * frame["merchant_risk_score"] + 0.3 * new_account)
    # card testing: small amounts, close to home, in daylight, bursts of transactions on new accounts
    return (-1.6 * amount_ratio - 1.4 * night - 0.7 * distance + 0.45 * frame["tx_count_24h"]
            + 0.8 * new_account + 1.0 * online)


def label_rows(rng: np.random.Generator, frame: pd.DataFrame, concept: str) -> np.ndarray:
    return draw_labels(rng, _risk(frame, concept).to_numpy(), FRAUD_RATE)


def draw_labels(rng: np.random.Generator, risk: np.ndarray, rate: float) -> np.ndarray:
    """0/1 labels from log-odds `risk` (up to an intercept), the intercept chosen so that the positive rate
    is `rate` on these rows."""
    low, high = -30.0, 10.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if (1 / (1 + np.exp(-(risk + mid)))).mean() < rate else (low, mid)
    probability = 1 / (1 + np.exp(-(risk + low)))
    return (rng.random(len(risk)) < probability).astype("int64")


# --- incidents as transformations of a day's rows ----------------------------------------------
def _schema_change(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame = frame.rename(columns={"merchant_category": "merchant_cat"})
    frame["promo_code_id"] = rng.integers(1000, 9999, len(frame))
    return frame


def _null_storm(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    for column in ("customer_age", "account_age_days", "avg_amount_30d"):
        frame.loc[rng.random(len(frame)) < 0.7, column] = np.nan
    return frame


def _unit_change(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame["amount"] = (frame["amount"] * 100).round()
    frame["avg_amount_30d"] = (frame["avg_amount_30d"] * 100).round()
    return frame


def _new_category(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    campaign = rng.random(len(frame)) < 0.4
    frame.loc[campaign, "merchant_category"] = "artisanal_crafts"
    frame.loc[campaign, "channel"] = "online"
    return frame


SERVED_CORRUPTIONS: dict[str, Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]] = {
    "schema_change": _schema_change,
    "null_storm": _null_storm,
    "unit_change": _unit_change,
    "new_category": _new_category,
}


def concept_on(day: int, incidents: list[Incident]) -> str:
    concept = "original"
    for item in sorted(incidents, key=lambda i: i.day):
        if item.day <= day and item.kind == "concept_drift":
            concept = "card_testing"
        elif item.day <= day and item.kind == "reversal":
            concept = "original"
    return concept


def _active(day: int, incidents: list[Incident]) -> list[Incident]:
    return [i for i in incidents if i.kind in SERVED_CORRUPTIONS and i.day <= day < i.day + i.duration_days]


def batch_id_of(start: dt.date, day: int) -> str:
    return (start + dt.timedelta(days=day)).isoformat()


def simulate(
    root: str | Path,
    *,
    start: dt.date = dt.date(2026, 9, 1),
    days: int = 60,
    rows: int = 5000,
    reference_rows: int = 60_000,
    seed: int = 42,
    incidents: list[Incident] | None = None,
    fresh: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write the reference data, the daily batches, their labels and the incident schedule."""
    lake = Lake(root)
    if fresh and lake.root.exists():
        shutil.rmtree(lake.root)
    incidents = default_incidents(days) if incidents is None else incidents
    rng = np.random.default_rng(seed)

    reference_days = 14
    per_day = max(1, reference_rows // reference_days)
    parts = []
    for offset in range(reference_days, 0, -1):
        day = start - dt.timedelta(days=offset)
        part = transactions(rng, per_day, day, 0)
        part["is_fraud"] = label_rows(rng, part, "original")
        parts.append(part)
    lake.write_parquet(pd.concat(parts, ignore_index=True), lake.reference_train)

    for day in range(days):
        batch_id = batch_id_of(start, day)
        frame = transactions(rng, rows, dt.date.fromisoformat(batch_id), 0)
        labels = pd.DataFrame({"transaction_id": frame["transaction_id"],
                               "is_fraud": label_rows(rng, frame, concept_on(day, incidents))})
        for item in _active(day, incidents):
            frame = SERVED_CORRUPTIONS[item.kind](frame.copy(), rng)
        lake.write_parquet(frame, lake.root / "landing" / "batches" / f"{batch_id}.parquet")
        lake.write_parquet(labels, lake.simulation_dir / "labels" / f"{batch_id}.parquet")
        if progress:
            progress(1)

    schedule = {
        "start": start.isoformat(),
        "days": days,
        "rows_per_day": rows,
        "label_delay_days": LABEL_DELAY_DAYS,
        "seed": seed,
        "incidents": [
            {**asdict(item), "batch_id": batch_id_of(start, item.day)} for item in sorted(incidents, key=lambda i: i.day)
        ],
    }
    lake.write_json(schedule, lake.simulation_dir / "schedule.json")
    return schedule


def deliver_labels(root: str | Path, today: str) -> list[str]:
    """Move simulated labels whose delay has passed into `landing/labels/` (what a labelling team does)."""
    lake = Lake(root)
    schedule = lake.read_json(lake.simulation_dir / "schedule.json")
    if not schedule:
        return []
    due = dt.date.fromisoformat(today) - dt.timedelta(days=schedule["label_delay_days"])
    delivered = []
    for path in sorted((lake.simulation_dir / "labels").glob("*.parquet")):
        if dt.date.fromisoformat(path.stem) <= due and lake.landing("labels", path.stem) is None:
            lake.copy_file(path, lake.root / "landing" / "labels" / path.name)
            delivered.append(path.stem)
    return delivered

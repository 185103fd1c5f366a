"""Property-based: random corruptions of a good batch never crash ingest, and a batch that breaks
a critical expectation (judged by GX's own engine) is never accepted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelguard.config import load_config
from modelguard.ingest import ingest_batch
from modelguard.simulate import simulate
from modelguard.storage import Lake
from modelguard.suites import batch_parameters, build_batch_suite, build_label_suite
from modelguard.validation import validate
from tests.conftest import write_config

DAY = "2026-09-01"
NUMERIC = ["amount", "hour", "customer_age", "account_age_days", "tx_count_24h", "distance_from_home_km"]
CATEGORICAL = ["merchant_category", "channel", "country", "device_type", "card_type"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("props")
    config = load_config(write_config(folder))
    simulate(config.storage_root, days=1, rows=300, reference_rows=3000, incidents=[])
    lake = Lake(config.storage_root)
    reference = pd.read_parquet(lake.reference_train)
    lake.write_json(build_batch_suite(reference, config), lake.expectation_suite("batches"))
    lake.write_json(build_label_suite(config), lake.expectation_suite("labels"))
    return config, lake, pd.read_parquet(lake.landing("batches", DAY))


corruption = st.one_of(
    st.tuples(st.just("nulls"), st.sampled_from(NUMERIC + CATEGORICAL + ["transaction_id", "event_time"]),
              st.floats(0.0, 1.0)),
    st.tuples(st.just("scale"), st.sampled_from(NUMERIC), st.sampled_from([-1.0, 0.0, 0.01, 100.0, 1e9])),
    st.tuples(st.just("constant"), st.sampled_from(NUMERIC), st.floats(-1e3, 1e3, allow_nan=False)),
    st.tuples(st.just("drop"), st.sampled_from(NUMERIC + CATEGORICAL + ["event_time"]), st.just(0)),
    st.tuples(st.just("as_text"), st.sampled_from(NUMERIC), st.just(0)),
    st.tuples(st.just("unseen"), st.sampled_from(CATEGORICAL), st.floats(0.0, 1.0)),
    st.tuples(st.just("duplicate_ids"), st.just("transaction_id"), st.floats(0.0, 0.5)),
    st.tuples(st.just("shift_time"), st.just("event_time"), st.integers(-3, 3)),
    st.tuples(st.just("inf"), st.sampled_from(NUMERIC), st.floats(0.0, 0.5)),
    st.tuples(st.just("truncate"), st.just(""), st.integers(0, 300)),
)


def corrupt(frame: pd.DataFrame, steps: list[tuple], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    for kind, column, amount in steps:
        if (column and column not in frame.columns) or frame.empty:
            continue
        rows = rng.random(len(frame)) < (amount if isinstance(amount, float) else 1.0)
        if kind == "nulls":
            frame[column] = frame[column].astype(object) if frame[column].dtype.kind in "iM" else frame[column]
            frame.loc[rows, column] = None
        elif kind == "scale":
            frame[column] = pd.to_numeric(frame[column], errors="coerce") * amount
        elif kind == "constant":
            frame[column] = amount
        elif kind == "drop":
            frame = frame.drop(columns=[column])
        elif kind == "as_text":
            frame[column] = frame[column].astype(str)
        elif kind == "unseen":
            frame.loc[rows, column] = "never_seen_before"
        elif kind == "duplicate_ids":
            frame.loc[rows, column] = frame[column].iloc[0]
        elif kind == "shift_time":
            frame[column] = pd.to_datetime(frame[column], errors="coerce") + pd.Timedelta(days=amount)
        elif kind == "inf":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
            frame.loc[rows, column] = np.inf
        elif kind == "truncate":
            frame = frame.iloc[:amount]
    return frame


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(corruption, min_size=1, max_size=3), seed=st.integers(0, 1000))
def test_random_corruptions_never_crash_and_never_slip_through(world, steps, seed) -> None:
    config, lake, good = world
    frame = corrupt(good, steps, seed)
    path = lake.root / "landing" / "batches" / f"{DAY}.parquet"
    try:
        frame.to_parquet(path, index=False)
    except (ValueError, TypeError, OverflowError, Exception):  # noqa: BLE001 - mixed types parquet cannot hold
        frame = frame.astype(str)
        frame.to_parquet(path, index=False)
    result = ingest_batch(config, DAY)  # must not raise
    assert result["status"] in ("accepted", "quarantined")
    oracle = validate(pd.read_parquet(path), lake.read_json(lake.expectation_suite("batches")),
                      config.model.id_column, batch_parameters(DAY), engine="gx")
    if not oracle.accepted:
        assert result["status"] == "quarantined", oracle.reason
        assert not lake.validated("batches", DAY).exists()
    else:
        assert result["status"] == "accepted"

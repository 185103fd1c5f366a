"""Which rows train a challenger and which judge it: after a performance drop, never a window wholly before
the onset; a single post-onset day is split in time; history before the onset is capped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelguard.challenge import SPLIT_HOLDOUT_SHARE, training_window, window_rows
from modelguard.config import load_config
from modelguard.policy import onset_day
from modelguard.storage import Lake
from tests.conftest import write_config

DAYS = [(dt.date(2026, 9, 1) + dt.timedelta(days=i)).isoformat() for i in range(14)]
ROWS = 300


@pytest.fixture
def lake_config(tmp_path: Path):
    """A lake whose 14 days are accepted, scored and labelled (rows in shuffled time order)."""
    config = load_config(write_config(tmp_path, challenger={"history_share": 0.2, "window_days": 10,
                                                             "holdout_days": 2}))
    lake = Lake(config.storage_root)
    rng = np.random.default_rng(0)
    for day in DAYS:
        ids = [f"{day}-{i:04d}" for i in range(ROWS)]
        times = pd.Timestamp(day) + pd.to_timedelta(rng.permutation(ROWS) * 60, unit="s")
        batch = pd.DataFrame({"transaction_id": ids, "event_time": times, "amount": rng.random(ROWS)})
        lake.write_parquet(batch, lake.validated("batches", day))
        lake.write_parquet(pd.DataFrame({"transaction_id": ids, "is_fraud": rng.integers(0, 2, ROWS)}),
                           lake.validated("labels", day))
        lake.write_parquet(pd.DataFrame({"transaction_id": ids, "score_champion": rng.random(ROWS)}),
                           lake.predictions(day))
    return lake, config


def test_without_an_onset_the_rolling_window_precedes_the_holdout(lake_config) -> None:
    lake, config = lake_config
    window = training_window(lake, config, DAYS[-1])
    assert window.holdout == DAYS[-2:]
    assert window.train == DAYS[-12:-2]
    assert window.split is None and window.history == []


@pytest.mark.parametrize("onset_index", range(4, 14))
def test_after_an_onset_the_challenger_never_trains_wholly_before_it(lake_config, onset_index: int) -> None:
    lake, config = lake_config
    onset = DAYS[onset_index]
    window = training_window(lake, config, DAYS[-1], onset)
    fresh = [*window.train, *([window.split] if window.split else [])]
    assert fresh and all(day >= onset for day in fresh)
    assert all(day >= onset for day in window.holdout)
    assert all(day < onset for day in window.history)
    train, holdout, cut = window_rows(lake, config, window)
    before = int((train["_batch_id"] < onset).sum())
    assert before <= config.challenger.history_share / (1 - config.challenger.history_share) * (len(train) - before) + 1
    # no row both trains and judges
    assert not set(train["transaction_id"]) & set(holdout["transaction_id"])
    assert len(holdout) > 0


def test_a_single_post_onset_day_is_split_in_time(lake_config) -> None:
    lake, config = lake_config
    window = training_window(lake, config, DAYS[-1], DAYS[-1])
    assert window.split == DAYS[-1] and window.train == [] and window.holdout == []
    train, holdout, cut = window_rows(lake, config, window)
    fresh = train[train["_batch_id"] == DAYS[-1]]
    assert len(holdout) == ROWS - cut == round(ROWS * SPLIT_HOLDOUT_SHARE)
    assert fresh["event_time"].max() < holdout["event_time"].min()  # earlier rows train, later rows judge
    assert holdout["event_time"].is_monotonic_increasing
    # the most recent history rows, at most history_share of the training rows
    history = train[train["_batch_id"] < DAYS[-1]]
    assert len(history) == int(len(fresh) * 0.2 / 0.8)
    assert set(history["_batch_id"]) == {DAYS[-2]}


ONSETS = [
    # (situation, served metric per labelled day, expected onset)
    ("healthy throughout", [0.86, 0.85, 0.87], None),
    ("a drop that persists", [0.86, 0.85, 0.55, 0.40], "d2"),
    ("a dip that recovered", [0.86, 0.50, 0.85], None),
    ("two runs: the latest counts", [0.5, 0.86, 0.6, 0.3], "d2"),
    ("within tolerance is not below the bar", [0.86, 0.78, 0.77], None),
    ("unmeasured (NaN) is skipped: it neither starts nor breaks the run", [0.86, float("nan"), 0.5], "d2"),
]


@pytest.mark.parametrize(("situation", "values", "expected"), ONSETS, ids=[o[0] for o in ONSETS])
def test_onset_day(situation: str, values: list[float], expected: str | None) -> None:
    days = [(f"d{i}", v) for i, v in enumerate(values)]
    assert onset_day(days, bar=0.86, tolerance=0.1) == expected

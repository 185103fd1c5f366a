from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelguard import decisions
from modelguard.storage import Lake, atomic_path, parse_batch_id, to_jsonable


def test_batch_id_must_be_a_date() -> None:
    assert parse_batch_id("2026-09-01").day == 1
    with pytest.raises(ValueError, match="batch_id must be a date"):
        parse_batch_id("../../etc")


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_landing_prefers_parquet_and_lists_ids(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    (tmp_path / "landing" / "batches").mkdir(parents=True)
    (tmp_path / "landing" / "batches" / "2026-09-02.csv").write_text("a\n1\n")
    (tmp_path / "landing" / "batches" / "2026-09-01.parquet").write_bytes(b"")
    (tmp_path / "landing" / "batches" / "2026-09-01.csv").write_text("a\n1\n")
    assert lake.landing("batches", "2026-09-01").suffix == ".parquet"
    assert lake.landing("batches", "2026-09-03") is None
    assert lake.landed_ids("batches") == ["2026-09-01", "2026-09-02"]


def test_upsert_replaces_rows_of_the_same_key(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    path = tmp_path / "metrics" / "t.parquet"
    lake.upsert_rows(path, pd.DataFrame({"batch_id": ["a", "b"], "metric": ["m", "m"], "value": [1.0, 2.0]}), ["batch_id", "metric"])
    table = lake.upsert_rows(path, pd.DataFrame({"batch_id": ["b"], "metric": ["m"], "value": [3.0]}), ["batch_id", "metric"])
    assert table.to_dict("records") == [{"batch_id": "a", "metric": "m", "value": 1.0},
                                        {"batch_id": "b", "metric": "m", "value": 3.0}]


def test_recording_a_decision_twice_keeps_one_line(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    for reason in ("first run", "rerun"):
        decisions.record(lake, batch_id="2026-09-01", dag_id="d", action="accept_batch", reason=reason)
    decisions.record(lake, batch_id="2026-09-02", dag_id="d", action="accept_batch", reason="next day")
    log = decisions.read_decisions(lake)
    # the rerun reached the same decision: nothing added, nothing rewritten
    assert [(e["batch_id"], e["reason"]) for e in log] == [("2026-09-01", "first run"), ("2026-09-02", "next day")]
    assert set(log[0]) >= {"batch_id", "dag_id", "action", "reason", "model_version", "at"}


def test_unknown_action_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown decision action 'retrain_now'"):
        decisions.record(Lake(tmp_path), batch_id="2026-09-01", dag_id="d", action="retrain_now", reason="x")


def test_numpy_values_become_json() -> None:
    assert to_jsonable({"a": np.float64(1.5), "b": [np.int64(2)], "c": float("nan")}) == {"a": 1.5, "b": [2], "c": None}


def test_an_aborted_atomic_write_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "validated" / "2026-09-01.parquet"
    target.parent.mkdir(parents=True)
    target.write_text("before")
    with atomic_path(target) as tmp:
        tmp.write_text("half")
        tmp.unlink()  # the writer decided not to write
    assert target.read_text() == "before" and list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("sample_rows", [None, 50, 1000, 5000])
def test_reading_sampled_rows_gives_the_rows_pandas_would_sample(tmp_path: Path, sample_rows) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(["a", "b", None], 1000),
                          "t": pd.Timestamp("2026-09-01") + pd.to_timedelta(rng.integers(0, 86400, 1000), unit="s")})
    path = tmp_path / "batch.parquet"
    frame.to_parquet(path, index=False, row_group_size=300)
    read = Lake.read_parquet_rows(path, ["c", "x"], sample_rows, seed=20260901)
    expected = frame[["c", "x"]]
    if sample_rows is not None and sample_rows < len(frame):
        expected = expected.sample(sample_rows, random_state=20260901)
    pd.testing.assert_frame_equal(read.reset_index(drop=True), expected.reset_index(drop=True))

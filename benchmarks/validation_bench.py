"""Validation speed: our ingest's suite evaluation vs GX's default pandas validation of the same
suite vs a plain pandas pass computing the same statistics (the floor), on one generated batch.

    .venv/bin/python benchmarks/validation_bench.py [--rows 1000000]

Prints rows/s and the ratios in one run. Goal: ours within 3x of the pandas floor.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from modelguard.config import parse_config
from modelguard.suites import batch_parameters, build_batch_suite
from modelguard.validation import validate

DAY = "2026-09-01"


def make_batch(rows: int, seed: int) -> tuple[pd.DataFrame, list[str], list[str]]:
    rng = np.random.default_rng(seed)
    numeric = [f"num_{i:02d}" for i in range(20)]
    categorical = [f"cat_{i}" for i in range(5)]
    frame = pd.DataFrame({name: rng.lognormal(i % 5, 0.5, rows) for i, name in enumerate(numeric)})
    for i, name in enumerate(categorical):
        frame[name] = rng.choice([f"level_{j}" for j in range(5 + 5 * i)], rows)
    frame.insert(0, "row_id", np.arange(rows).astype(str))
    seconds = rng.integers(0, 86_400, rows)
    frame.insert(1, "event_time", pd.Timestamp(DAY) + pd.to_timedelta(np.sort(seconds), unit="s"))
    return frame, numeric, categorical


def pandas_floor(frame: pd.DataFrame, suite: dict) -> int:
    """The same statistics in one plain pass: null counts, range violations, set membership, dtypes,
    distinct counts and duplicate ids, with no result objects."""
    failed = 0
    for exp in suite["expectations"]:
        kw = exp["kwargs"]
        column = frame[kw["column"]] if "column" in kw else None
        kind = exp["type"]
        if kind == "expect_column_values_to_not_be_null":
            failed += int(column.isna().sum() > 0)
        elif kind == "expect_column_values_to_be_between" and column.dtype.kind == "f":
            failed += int(((column < kw["min_value"]) | (column > kw["max_value"])).sum() > 0)
        elif kind == "expect_column_values_to_be_in_set":
            failed += int((~column.isin(kw["value_set"])).sum() > 0)
        elif kind == "expect_column_values_to_be_unique":
            failed += int(column.duplicated().any())
        elif kind == "expect_column_unique_value_count_to_be_between":
            failed += int(column.nunique() < 2)
        elif kind == "expect_column_values_to_be_in_type_list":
            failed += int(str(column.dtype) not in kw["type_list"])
    return failed


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-gx", action="store_true", help="skip the (slow) GX default run")
    args = parser.parse_args()
    frame, numeric, categorical = make_batch(args.rows, 1)
    reference, _, _ = make_batch(50_000, 2)
    config = parse_config({"model": {"name": "bench", "target": "y", "id_column": "row_id",
                                     "timestamp_column": "event_time",
                                     "features": {"numeric": numeric, "categorical": categorical}},
                           "validation": {"max_rows": 10 * args.rows}}, base_dir=Path.cwd())
    suite = build_batch_suite(reference, config)
    params = batch_parameters(DAY)
    print(f"batch: {args.rows:,} rows x {frame.shape[1]} columns (20 numeric, 5 categorical, id, timestamp); "
          f"suite: {len(suite['expectations'])} expectations")

    validate(frame.head(1000), suite, "row_id", params)  # warm up imports
    ours = timed(lambda: validate(frame, suite, "row_id", params), repeat=3)
    floor = timed(lambda: pandas_floor(frame, suite), repeat=3)
    rows = [("pandas floor (one plain pass)", floor), ("modelguard fast engine", ours)]
    if not args.skip_gx:
        validate(frame.head(1000), suite, "row_id", params, engine="gx")
        gx_default = timed(lambda: validate(frame, suite, "row_id", params, engine="gx"))
        rows.append(("GX 1.x default pandas validation", gx_default))
        same = validate(frame, suite, "row_id", params).accepted == validate(frame, suite, "row_id", params,
                                                                               engine="gx").accepted
    print(f"{'method':<36}{'seconds':>10}{'rows/s':>14}{'x floor':>10}")
    for name, seconds in rows:
        print(f"{name:<36}{seconds:>10.2f}{args.rows / seconds:>14,.0f}{seconds / floor:>10.2f}")
    if not args.skip_gx:
        print(f"ours vs GX default: {gx_default / ours:.1f}x faster; same verdict: {same}")
    print(f"goal: ours within 3x of the floor -> {'met' if ours <= 3 * floor else 'NOT met'} ({ours / floor:.2f}x)")


if __name__ == "__main__":
    main()

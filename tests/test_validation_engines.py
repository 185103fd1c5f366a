"""Our fast evaluator and GX's own pandas validation reach the same verdicts on the same suite."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from modelguard.config import load_config
from modelguard.ingest import read_landed
from modelguard.simulate import simulate
from modelguard.storage import Lake
from modelguard.suites import batch_parameters, build_batch_suite
from modelguard.validation import validate
from tests.conftest import write_config
from tests.corruptions import CASES

DAY = "2026-09-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engines")
    config = load_config(write_config(folder))
    simulate(config.storage_root, days=1, rows=600, reference_rows=3000, incidents=[])
    lake = Lake(config.storage_root)
    suite = build_batch_suite(pd.read_parquet(lake.reference_train), config)
    good = pd.read_parquet(lake.landing("batches", DAY))
    return config, suite, good, folder


def _verdicts(frame, suite, config) -> tuple[bool, set]:
    params = batch_parameters(DAY)
    fast = validate(frame, suite, config.model.id_column, params, engine="fast")
    gx = validate(frame, suite, config.model.id_column, params, engine="gx")
    failed = lambda r: {(f["expectation"], f["column"], f["severity"]) for f in r.failures + r.warnings}  # noqa: E731
    assert fast.accepted == gx.accepted
    assert failed(fast) == failed(gx)
    return fast.accepted, failed(fast)


def test_a_good_batch_passes_both(world) -> None:
    config, suite, good, _ = world
    accepted, failed = _verdicts(good, suite, config)
    assert accepted and not failed


@pytest.mark.parametrize("case", sorted(CASES))
def test_engines_agree_on_bad_input(world, case: str) -> None:
    config, suite, good, folder = world
    writer, fault = CASES[case]
    path = writer(good, Path(folder) / case)
    try:
        frame = read_landed(path, config.model.timestamp_column)
    except ValueError as error:
        assert fault in str(error)  # unreadable: never reaches an engine
        return
    accepted, failed = _verdicts(frame, suite, config)
    assert not accepted, f"{case} was accepted"
    fast = validate(frame, suite, config.model.id_column, batch_parameters(DAY))
    assert fault in fast.reason, fast.reason


def test_unknown_expectations_are_handed_to_gx(world) -> None:
    config, suite, good, _ = world
    extra = {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "amount", "min_value": 1e6},
             "meta": {}, "severity": "critical"}
    result = validate(good, {**suite, "expectations": [*suite["expectations"], extra]}, config.model.id_column,
                      batch_parameters(DAY))
    assert not result.accepted
    assert result.failures[0]["expectation"] == "expect_column_mean_to_be_between"

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


NUMERIC_FAMILY = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "Int8", "Int16", "Int32",
                  "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "float16", "float32", "float64", "Float32", "Float64"]


@pytest.mark.parametrize("dtype", NUMERIC_FAMILY)
def test_any_number_passes_as_a_number_in_both_engines(world, dtype: str) -> None:
    """Numeric means the family (int, uint, float, nullable), not the dtype the reference happened to have."""
    config, suite, good, _ = world
    frame = good.copy()
    frame["hour"] = frame["hour"].astype(dtype)  # 0..23: fits every member of the family
    accepted, failed = _verdicts(frame, suite, config)
    assert accepted and not failed, failed


@pytest.mark.parametrize("dtype", ["object", "string"])
def test_any_text_dtype_passes_as_a_category_in_both_engines(world, dtype: str) -> None:
    config, suite, good, _ = world
    frame = good.copy()
    frame["channel"] = frame["channel"].astype(dtype)
    accepted, failed = _verdicts(frame, suite, config)
    assert accepted and not failed, failed


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_zone_aware_timestamps_are_compared_as_the_same_instants(world, zone: str, tmp_path: Path) -> None:
    """The same instants, written with a time zone, pass both engines and the streamed path; an hour before the
    day (in UTC) fails them all, whatever zone it is written in."""
    config, suite, good, _ = world
    frame = good.copy()
    frame["event_time"] = frame["event_time"].dt.tz_localize("UTC").dt.tz_convert(zone)
    accepted, failed = _verdicts(frame, suite, config)
    assert accepted and not failed, failed
    _streamed_equals_whole(frame, suite, config, tmp_path / "zoned.parquet")
    early = frame.copy()
    early.loc[early.index[:5], "event_time"] = (pd.Timestamp(DAY, tz="UTC") - pd.Timedelta(hours=1)).tz_convert(zone)
    accepted, failed = _verdicts(early, suite, config)
    assert not accepted and ("expect_column_values_to_be_between", "event_time", "critical") in failed
    _streamed_equals_whole(early, suite, config, tmp_path / "early.parquet")


@pytest.mark.parametrize(("share", "severity"), [(0.1, "warning"), (0.45, "warning"), (0.6, "critical"), (1.0, "critical")])
def test_unknown_categories_warn_when_few_and_quarantine_when_most(world, share: float, severity: str) -> None:
    """A campaign's new categories are news (warning); mostly unknown values are another encoding (critical)."""
    config, suite, good, _ = world
    frame = good.copy()
    recoded = frame.index[: int(round(share * len(frame)))]
    frame.loc[recoded, "channel"] = "code_" + pd.Series(range(len(recoded)), index=recoded).mod(7).astype(str)
    accepted, failed = _verdicts(frame, suite, config)
    assert ("expect_column_values_to_be_in_set", "channel", severity) in failed
    assert accepted == (severity == "warning")


def test_unknown_expectations_are_handed_to_gx(world) -> None:
    config, suite, good, _ = world
    extra = {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "amount", "min_value": 1e6},
             "meta": {}, "severity": "critical"}
    result = validate(good, {**suite, "expectations": [*suite["expectations"], extra]}, config.model.id_column,
                      batch_parameters(DAY))
    assert not result.accepted
    assert result.failures[0]["expectation"] == "expect_column_mean_to_be_between"


def _streamed_equals_whole(frame: pd.DataFrame, suite: dict, config, path: Path) -> None:
    """The chunked parquet validation reaches the same verdicts, counts and samples as the whole frame."""
    from modelguard.validation import validate_parquet

    frame.to_parquet(path, index=False, row_group_size=101)
    params = batch_parameters(DAY)
    whole = validate(pd.read_parquet(path), suite, config.model.id_column, params)
    streamed = validate_parquet(path, suite, config.model.id_column, params, chunk_rows=97)
    assert streamed.accepted == whole.accepted
    shape = lambda r: sorted((f["expectation"], f["column"], f["severity"], f["summary"],  # noqa: E731
                              str(f["observed"].get("unexpected_count")), str(f["sample"][:3]))
                             for f in r.failures + r.warnings)
    assert shape(streamed) == shape(whole)


def test_streamed_parquet_validation_matches_the_whole_frame_on_a_good_batch(world) -> None:
    config, suite, good, folder = world
    _streamed_equals_whole(good, suite, config, Path(folder) / "good-streamed.parquet")


@pytest.mark.parametrize("case", sorted(CASES))
def test_streamed_parquet_validation_matches_the_whole_frame_on_bad_input(world, case: str) -> None:
    config, suite, good, folder = world
    writer, _ = CASES[case]
    path = writer(good, Path(folder) / f"{case}-source")
    try:
        frame = read_landed(path, config.model.timestamp_column)
    except ValueError:
        return  # unreadable: never reaches an engine
    _streamed_equals_whole(frame, suite, config, Path(folder) / f"{case}-streamed.parquet")


def test_streamed_validation_finds_duplicate_ids_across_chunks(world) -> None:
    config, suite, good, folder = world
    frame = good.copy()
    frame.loc[len(frame) - 1, config.model.id_column] = frame.loc[0, config.model.id_column]  # first and last chunk
    _streamed_equals_whole(frame, suite, config, Path(folder) / "dupes.parquet")

"""Dtype families, not dtype names: what a reference column may be for its role, decided at `init`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelguard.bootstrap import initialise
from modelguard.config import parse_config
from modelguard.storage import Lake
from modelguard.suites import build_batch_suite, unsupported_reference_dtypes

MODEL = {"name": "m", "target": "y", "id_column": "id", "timestamp_column": "t",
         "features": {"numeric": ["x"], "categorical": ["c"]}}


def _reference(x=None, c=None, t=None) -> pd.DataFrame:
    rows = 200
    frame = pd.DataFrame({
        "id": [f"r{i}" for i in range(rows)],
        "t": pd.Timestamp("2026-08-01") + pd.to_timedelta(np.arange(rows), unit="min"),
        "x": np.arange(rows, dtype="float64"),
        "c": np.array(["a", "b", "c", "d"])[np.arange(rows) % 4],
        "y": np.arange(rows) % 2,
    })
    for column, dtype in (("x", x), ("c", c), ("t", t)):
        if dtype is not None:
            frame[column] = dtype(frame[column]) if callable(dtype) else frame[column].astype(dtype)
    return frame


@pytest.mark.parametrize(("column", "dtype"), [
    *(("x", d) for d in ["int8", "int64", "uint16", "uint64", "Int32", "UInt8", "float32", "float64", "Float64"]),
    *(("c", d) for d in ["object", "string"]),
    ("c", lambda s: s.astype("category").cat.codes.astype("int64")), ("c", lambda s: s.astype("category").cat.codes
                                                                         .astype("Int16")),
    ("c", lambda s: s == "a"), ("c", lambda s: (s == "a").astype("boolean")),
    ("t", "datetime64[ns]"), ("t", "datetime64[us]"), ("t", lambda s: s.dt.tz_localize("Europe/Berlin")),
])
def test_every_member_of_the_family_is_accepted(tmp_path: Path, column: str, dtype) -> None:
    config = parse_config({"model": MODEL}, base_dir=tmp_path)
    reference = _reference(**{column: dtype})
    assert unsupported_reference_dtypes(reference, config) == []
    assert build_batch_suite(reference, config)["expectations"]


@pytest.mark.parametrize(("column", "convert", "said"), [
    ("x", lambda s: s.astype(str), "'x' is numeric in the config but has dtype object"),
    ("x", lambda s: s > 10, "'x' is numeric in the config but has dtype bool"),
    ("c", lambda s: s.astype("category").cat.codes.astype("float64"), "float codes: cast them to text"),
    ("c", lambda s: s.astype("category"), "'c' is categorical in the config but has dtype category"),
    ("t", lambda s: s.astype(str), "'t' is timestamp in the config but has dtype object"),
], ids=["numbers-as-text", "bool-as-number", "float-codes", "pandas-category", "timestamps-as-text"])
def test_an_unsupported_dtype_fails_init_with_a_sentence(tmp_path: Path, column: str, convert, said: str) -> None:
    config = parse_config({"model": MODEL, "storage": {"root": "lake"}}, base_dir=tmp_path)
    reference = _reference()
    reference[column] = convert(reference[column])
    lake = Lake(config.storage_root)
    lake.reference_train.parent.mkdir(parents=True)
    reference.to_parquet(lake.reference_train, index=False)
    with pytest.raises(ValueError, match="reference column") as caught:
        initialise(config)
    assert said in str(caught.value)
    assert not lake.expectation_suite("batches").exists()  # nothing built from a reference it cannot check


def test_csv_categories_are_read_as_the_text_the_suite_expects(tmp_path: Path) -> None:
    """Digit-like codes in a CSV stay codes ("02139"), instead of becoming the number 2139 and failing the
    categorical type check; numbers and missing values are read as before."""
    from modelguard.ingest import read_landed

    path = tmp_path / "2026-09-01.csv"
    path.write_text("id,zip,x\n1,02139,1.5\n2,10001,\n3,,2\n")
    frame = read_landed(path, dtypes={"zip": str})
    assert frame["zip"].tolist()[:2] == ["02139", "10001"] and frame["zip"].isna().tolist() == [False, False, True]
    assert str(frame["x"].dtype) == "float64"
    assert read_landed(path)["zip"].tolist()[:2] == [2139, 10001]  # what inference alone made of them


def test_csv_timestamps_with_offsets_are_read_as_instants(tmp_path: Path) -> None:
    """Offsets may differ row to row (a DST change, several sources); each row keeps its instant, in UTC."""
    from modelguard.ingest import read_landed

    path = tmp_path / "2026-09-01.csv"
    path.write_text("id,t\n1,2026-09-01T10:00:00+02:00\n2,2026-09-01T09:00:00Z\n3,2026-09-01 07:30:00-01:00\n")
    stamps = read_landed(path, "t")["t"]
    assert str(stamps.dtype) == "datetime64[ns, UTC]"
    assert [s.strftime("%H:%M") for s in stamps] == ["08:00", "09:00", "08:30"]
    path.write_text("id,t\n1,2026-09-01T10:00:00\n")
    assert str(read_landed(path, "t")["t"].dtype) == "datetime64[ns]"  # no offset: naive, taken as UTC


@pytest.mark.parametrize("kind", ["codes", "bool"])
def test_coded_categories_are_checked_as_their_own_kind_in_both_engines(tmp_path: Path, kind: str) -> None:
    """Integer codes and booleans pass as categories when the reference has them so; the same values arriving
    as text (another encoding) are critical, as are mostly unknown codes; both engines agree."""
    from modelguard.suites import batch_parameters
    from modelguard.validation import validate

    config = parse_config({"model": MODEL}, base_dir=tmp_path)
    convert = (lambda s: s.map({"a": 10, "b": 11, "c": 12, "d": 13}).astype("int64")) if kind == "codes" else \
        (lambda s: s.isin(["a", "b"]))
    reference = _reference()
    reference["c"] = convert(reference["c"])
    suite = build_batch_suite(reference, config)
    batch = reference.drop(columns="y").iloc[:120].copy()
    batch["t"] = pd.Timestamp("2026-09-01 00:00") + pd.to_timedelta(np.arange(len(batch)), unit="min")
    as_text = batch.assign(c=batch["c"].astype(str))
    cases = [(batch, True, None), (as_text, False, "expect_column_values_to_be_in_type_list")]
    if kind == "codes":
        cases.append((batch.assign(c=batch["c"] + 100), False, "expect_column_values_to_be_in_set"))
    for frame, accepted, failing in cases:
        results = [validate(frame, suite, "id", batch_parameters("2026-09-01"), engine=engine) for engine in ("fast", "gx")]
        failed = [{(f["expectation"], f["column"]) for f in r.failures} for r in results]
        assert [r.accepted for r in results] == [accepted, accepted] and failed[0] == failed[1], failed
        assert failing is None or (failing, "c") in failed[0]


def test_csv_codes_are_read_as_the_suite_expects_them(tmp_path: Path) -> None:
    """From the suite's own type checks: text stays text, integer codes with a gap stay integers, booleans stay
    booleans (pandas alone reads codes with a gap as floats)."""
    from modelguard.ingest import read_landed
    from modelguard.suites import csv_dtypes

    model = {**MODEL, "features": {"numeric": ["x"], "categorical": ["c", "code", "flag"]}}
    config = parse_config({"model": model}, base_dir=tmp_path)
    reference = _reference().assign(code=lambda f: np.arange(len(f)) % 3, flag=lambda f: np.arange(len(f)) % 2 == 0)
    dtypes = csv_dtypes(build_batch_suite(reference, config), config.model.features.categorical)
    path = tmp_path / "2026-09-01.csv"
    path.write_text("id,c,code,flag\n1,07,1,True\n2,a,,False\n3,,2,\n")
    frame = read_landed(path, dtypes=dtypes)
    assert frame["c"].tolist()[:2] == ["07", "a"]
    assert str(frame["code"].dtype) == "Int64" and frame["code"].isna().tolist() == [False, True, False]
    assert str(frame["flag"].dtype) == "boolean"

"""The synthetic streams of tests/streams.py: layout, dtypes, the drift they script and the incident batch.
Fast: generators, pandas, scikit-learn and the fast validation engine; no Airflow, no MLflow."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelguard.config import parse_config
from modelguard.ingest import read_landed
from modelguard.simulate import deliver_labels
from modelguard.storage import Lake
from modelguard.suites import CSV_DTYPES, batch_parameters, build_batch_suite, csv_dtypes
from modelguard.validation import validate, validate_parquet
from tests.streams import (
    MULTICLASS_MODEL,
    RECODED_REGIONS,
    REGIONS,
    REGRESSION_FEATURES,
    REGRESSION_MODEL,
    multiclass_stream,
    regression_stream,
)

START = dt.date(2026, 9, 1)
DAYS, ROWS, DRIFT_DAY, INCIDENT_DAY = 4, 2000, 2, 1
PRE, POST = "2026-09-01", "2026-09-04"  # a clean day before the drift, a day after it
INCIDENT = "2026-09-02"
LATER = pd.Timestamp("2027-06-01")  # "now" for validation: every batch day has ended
# How the pipeline reads the multiclass CSV categoricals (what suites.csv_dtypes derives from the suite)
MULTICLASS_CSV_DTYPES = {"region_code": CSV_DTYPES["codes"], "has_guarantor": CSV_DTYPES["bool"],
                         "purpose": CSV_DTYPES["text"]}
SCHEDULE_KEYS = {"start", "days", "rows_per_day", "label_delay_days", "seed", "incidents"}  # as simulate.py


@pytest.fixture(scope="module")
def regression(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("regression")
    regression_stream(root, start=START, days=DAYS, rows=ROWS, reference_rows=4000, seed=3,
                      drift_day=DRIFT_DAY, incident_day=INCIDENT_DAY)
    return Lake(root)


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("multiclass")
    multiclass_stream(root, start=START, days=DAYS, rows=ROWS, reference_rows=4200, seed=3,
                      drift_day=DRIFT_DAY, incident_day=INCIDENT_DAY)
    return Lake(root)


def _day(lake: Lake, batch_id: str, id_column: str) -> pd.DataFrame:
    """A landed batch joined with its held-back labels."""
    path = lake.landing("batches", batch_id)
    batch = read_landed(path, "applied_at", dtypes=MULTICLASS_CSV_DTYPES) if path.suffix == ".csv" \
        else read_landed(path)
    return batch.merge(pd.read_parquet(lake.simulation_dir / "labels" / f"{batch_id}.parquet"), on=id_column)


def _days() -> list[str]:
    return [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]


# --- layout ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("stream", "suffix", "kind"), [("regression", ".parquet", "null_feature"),
                                                        ("multiclass", ".csv", "region_recoded")])
def test_the_layout_matches_simulate_and_labels_arrive_late(stream: str, suffix: str, kind: str,
                                                           request: pytest.FixtureRequest) -> None:
    lake: Lake = request.getfixturevalue(stream)
    assert lake.reference_train.exists()
    assert lake.landed_ids("batches") == _days()
    assert {lake.landing("batches", d).suffix for d in _days()} == {suffix}
    assert sorted(p.stem for p in (lake.simulation_dir / "labels").glob("*.parquet")) == _days()
    schedule = lake.read_json(lake.simulation_dir / "schedule.json")
    assert set(schedule) == SCHEDULE_KEYS and schedule["label_delay_days"] == 2
    assert [(i["kind"], i["batch_id"], i["expected_response"]) for i in schedule["incidents"]] == [
        (kind, INCIDENT, "quarantine_batch"), ("concept_drift", "2026-09-03", "request_approval")]
    # deliver_labels reads this schedule unchanged: labels of day d land on d + 2
    assert deliver_labels(lake.root, "2026-09-02") == []
    assert deliver_labels(lake.root, "2026-09-03") == ["2026-09-01"]


def test_a_stream_without_incidents_schedules_none(tmp_path) -> None:
    schedule = regression_stream(tmp_path, days=1, rows=200, reference_rows=500, seed=1)
    assert schedule["incidents"] == [] and Lake(tmp_path).landed_ids("batches") == ["2026-09-01"]


def test_regression_columns_and_dtypes(regression: Lake) -> None:
    reference = pd.read_parquet(regression.reference_train)
    assert list(reference.columns) == ["row_id", *REGRESSION_FEATURES, "y"]
    assert reference.dtypes.astype(str).to_dict() == {"row_id": "int64", **dict.fromkeys(REGRESSION_FEATURES,
                                                                                         "float64"), "y": "float64"}
    batch = pd.read_parquet(regression.landing("batches", PRE))
    assert list(batch.columns) == ["row_id", *REGRESSION_FEATURES]  # the target only comes with the labels
    ids = [reference["row_id"], *(pd.read_parquet(regression.landing("batches", d))["row_id"] for d in _days())]
    assert pd.concat(ids).is_unique and len(pd.concat(ids)) == 4000 + DAYS * ROWS


def test_multiclass_columns_and_dtypes(multiclass: Lake) -> None:
    reference = pd.read_parquet(multiclass.reference_train)
    dtypes = reference.dtypes.astype(str).to_dict()
    assert dtypes == {"loan_id": "object", "applied_at": "datetime64[ns, Europe/Berlin]", "income": "float64",
                      "debt_ratio": "float64", "age": "Int64", "region_code": "int64", "has_guarantor": "bool",
                      "purpose": "object", "grade": "int64"}
    assert 0 < reference["age"].isna().mean() < 0.1  # nullable for a reason
    assert reference["applied_at"].max() < pd.Timestamp(START, tz="UTC")  # history only
    assert set(reference["grade"]) == {0, 1, 2} and set(reference["region_code"]) == set(REGIONS)
    ids = [reference["loan_id"]]
    for batch_id in _days():
        path = multiclass.landing("batches", batch_id)
        assert "+02:00" in path.read_text().splitlines()[1]  # offsets as sent, Berlin summer time
        batch = read_landed(path, "applied_at", dtypes=MULTICLASS_CSV_DTYPES)
        # read back as the suite types them: zone-aware instants, integer codes, booleans, text
        assert isinstance(batch["applied_at"].dtype, pd.DatetimeTZDtype)
        assert str(batch["region_code"].dtype) == "Int64" and str(batch["has_guarantor"].dtype) == "boolean"
        assert batch["purpose"].map(type).eq(str).all()
        day_start = pd.Timestamp(batch_id, tz="UTC")
        assert batch["applied_at"].between(day_start, day_start + pd.Timedelta(days=1), inclusive="left").all()
        ids.append(batch["loan_id"])
        labels = pd.read_parquet(multiclass.simulation_dir / "labels" / f"{batch_id}.parquet")
        assert labels["grade"].dtype == "int64" and set(labels["grade"]) <= {0, 1, 2}
        assert labels["loan_id"].tolist() == batch["loan_id"].tolist()
    ids = pd.concat(ids)
    assert ids.is_unique and ids.str.fullmatch(r"L\d{6,}").all()


# --- drift: the concept changes, the inputs do not -----------------------------------------------
def test_regression_concept_drift_is_real_and_pure(regression: Lake) -> None:
    reference = pd.read_parquet(regression.reference_train)
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(reference[REGRESSION_FEATURES],
                                                                          reference["y"])
    before, after = _day(regression, PRE, "row_id"), _day(regression, POST, "row_id")
    r2_before = r2_score(before["y"], model.predict(before[REGRESSION_FEATURES]))
    r2_after = r2_score(after["y"], model.predict(after[REGRESSION_FEATURES]))
    assert r2_before > 0.85 and r2_before - r2_after > 0.3, (r2_before, r2_after)
    # covariate drift detectors must stay quiet: every input is distributed as before
    for column in REGRESSION_FEATURES:
        assert ks_2samp(before[column], after[column]).statistic < 0.1, column


def _grader(reference: pd.DataFrame):
    numeric, categorical = MULTICLASS_MODEL["features"]["numeric"], MULTICLASS_MODEL["features"]["categorical"]
    # age as float: scikit-learn refuses pandas.NA in a passed-through Int64 column
    features = ColumnTransformer([("numeric", "passthrough", numeric),
                                  ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                   categorical)])
    model = make_pipeline(features, HistGradientBoostingClassifier(max_iter=100, random_state=0))

    def prepare(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[numeric + categorical].astype({"age": "float64", "region_code": str, "has_guarantor": str})

    model.fit(prepare(reference), reference["grade"])
    return lambda frame: model.predict(prepare(frame))


def test_multiclass_concept_drift_is_real_and_pure(multiclass: Lake) -> None:
    predict = _grader(pd.read_parquet(multiclass.reference_train))
    before, after = _day(multiclass, PRE, "loan_id"), _day(multiclass, POST, "loan_id")
    accuracy_before = accuracy_score(before["grade"], predict(before))
    accuracy_after = accuracy_score(after["grade"], predict(after))
    assert accuracy_before > 0.6 and accuracy_before - accuracy_after > 0.15, (accuracy_before, accuracy_after)
    for column in ("income", "debt_ratio", "age"):
        assert ks_2samp(before[column].dropna(), after[column].dropna()).statistic < 0.1, column
    for column in ("region_code", "has_guarantor", "purpose"):
        shares = pd.concat([before[column].value_counts(normalize=True),
                            after[column].value_counts(normalize=True)], axis=1).fillna(0)
        assert (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max() < 0.05, column
    # nor does the grade mix move much: the drift is in which applicant gets which grade
    mix = before["grade"].value_counts(normalize=True) - after["grade"].value_counts(normalize=True)
    assert mix.abs().max() < 0.05


# --- the incident batch ----------------------------------------------------------------------------
def test_the_regression_incident_is_quarantined_and_the_other_days_pass(regression: Lake, tmp_path) -> None:
    config = parse_config({"model": REGRESSION_MODEL}, base_dir=tmp_path)
    suite = build_batch_suite(pd.read_parquet(regression.reference_train), config)
    for batch_id in _days():
        # validate_parquet: how ingest validates a landed parquet batch
        result = validate_parquet(regression.landing("batches", batch_id), suite, "row_id",
                                  batch_parameters(batch_id, now=LATER))
        if batch_id == INCIDENT:
            assert not result.accepted
            assert {(f["column"], f["severity"]) for f in result.failures} == {("x2", "critical")}
            assert {f["expectation"] for f in result.failures} == {"expect_column_values_to_not_be_null",
                                                                  "expect_column_unique_value_count_to_be_between"}
        else:  # clean days and the drifted ones alike: concept drift is invisible to validation
            assert result.accepted and not result.warnings, (batch_id, result.reason)


def test_the_multiclass_incident_is_quarantined_and_the_other_days_pass(multiclass: Lake, tmp_path) -> None:
    config = parse_config({"model": MULTICLASS_MODEL}, base_dir=tmp_path)
    suite = build_batch_suite(pd.read_parquet(multiclass.reference_train), config)
    dtypes = csv_dtypes(suite, config.model.features.categorical)
    assert dtypes == MULTICLASS_CSV_DTYPES  # what the tests above read the CSV batches with
    for batch_id in _days():
        # read_landed + validate: how ingest validates a landed CSV batch
        frame = read_landed(multiclass.landing("batches", batch_id), "applied_at", dtypes=dtypes)
        result = validate(frame, suite, "loan_id", batch_parameters(batch_id, now=LATER))
        if batch_id == INCIDENT:
            # still integer codes (the type check passes), none of them known to the reference
            assert set(frame["region_code"]) == set(RECODED_REGIONS.values())
            assert not result.accepted
            assert [(f["column"], f["expectation"], f["severity"]) for f in result.failures] == [
                ("region_code", "expect_column_values_to_be_in_set", "critical")]
        else:  # zone-aware timestamps inside the UTC day, Int64 codes, booleans: all as the suite expects
            assert result.accepted and not result.warnings, (batch_id, result.reason)

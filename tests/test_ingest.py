"""Ingest against real GX suites built from simulated reference data (no Airflow here)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from modelguard import decisions
from modelguard.config import load_config
from modelguard.ingest import ingest_batch, ingest_labels, release_batch
from modelguard.simulate import deliver_labels, parse_incident, simulate
from modelguard.storage import Lake
from modelguard.suites import build_batch_suite, build_label_suite
from tests.conftest import write_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ingest")
    config = load_config(write_config(folder))
    simulate(config.storage_root, days=7, rows=800, reference_rows=3000,
             incidents=[parse_incident(k) for k in ("schema_change@1", "null_storm@2", "unit_change@3",
                                                    "new_category@4")])
    lake = Lake(config.storage_root)
    reference = pd.read_parquet(lake.reference_train)
    lake.write_json(build_batch_suite(reference, config), lake.expectation_suite("batches"))
    lake.write_json(build_label_suite(config), lake.expectation_suite("labels"))
    return config, lake


def test_a_good_batch_is_accepted(setup) -> None:
    config, lake = setup
    assert ingest_batch(config, "2026-09-01")["status"] == "accepted"
    assert lake.validated("batches", "2026-09-01").exists()


@pytest.mark.parametrize(("batch_id", "named"), [
    ("2026-09-02", "schema: missing columns merchant_category; unexpected columns merchant_cat, promo_code_id"),
    ("2026-09-03", "column 'customer_age': expect_column_values_to_not_be_null"),
    ("2026-09-04", "column 'amount': expect_column_values_to_be_between"),
])
def test_upstream_faults_are_quarantined_with_a_reason(setup, batch_id: str, named: str) -> None:
    config, lake = setup
    assert ingest_batch(config, batch_id)["status"] == "quarantined"
    folder = lake.quarantine_dir(batch_id)
    reason = json.loads((folder / "reason.json").read_text())
    assert named in reason["reason"]
    assert (folder / f"{batch_id}.parquet").read_bytes() == lake.landing("batches", batch_id).read_bytes()
    assert "quarantined" in (folder / "report.html").read_text()
    assert not lake.validated("batches", batch_id).exists()
    assert reason["failures"][0]["observed"] or reason["failures"][0]["expected"]


def test_new_dominant_category_is_accepted_with_a_warning(setup) -> None:
    config, lake = setup
    result = ingest_batch(config, "2026-09-05")
    assert result == {"batch_id": "2026-09-05", "status": "accepted", "failures": 0, "warnings": 1}
    entry = decisions.for_batch(lake, "2026-09-05")[-1]
    assert "merchant_category" in entry["warnings"][0]


def test_rerun_is_idempotent(setup) -> None:
    config, lake = setup
    ingest_batch(config, "2026-09-03")
    before = [e for e in decisions.read_decisions(lake) if e["batch_id"] == "2026-09-03"]
    ingest_batch(config, "2026-09-03")
    after = [e for e in decisions.read_decisions(lake) if e["batch_id"] == "2026-09-03"]
    assert len(after) == len(before) == 1


def test_garbage_file_is_quarantined_not_a_traceback(setup) -> None:
    config, lake = setup
    path = lake.root / "landing" / "batches" / "2026-09-20.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    assert ingest_batch(config, "2026-09-20")["status"] == "quarantined"
    assert "cannot read" in json.loads((lake.quarantine_dir("2026-09-20") / "reason.json").read_text())["reason"]


def test_missing_batch_is_recorded(setup) -> None:
    config, lake = setup
    assert ingest_batch(config, "2026-10-30")["status"] == "missing"
    assert decisions.for_batch(lake, "2026-10-30")[-1]["alert"] == "missing_batch"


def test_release_of_a_fixed_batch(setup) -> None:
    config, lake = setup
    ingest_batch(config, "2026-09-04")
    fixed = pd.read_parquet(lake.landing("batches", "2026-09-04"))
    fixed["amount"] /= 100
    fixed["avg_amount_30d"] /= 100
    lake.write_parquet(fixed, lake.quarantine_dir("2026-09-04") / "fixed.parquet")
    assert release_batch(config, "2026-09-04")["status"] == "accepted"
    assert lake.validated("batches", "2026-09-04").exists()
    assert (lake.quarantine_dir("2026-09-04") / "2026-09-04.parquet").exists()  # the bad original is kept


def test_late_labels_are_validated_once(setup) -> None:
    config, lake = setup
    deliver_labels(lake.root, "2026-09-05")
    first = ingest_labels(config, "2026-09-05")
    assert first["labels_accepted"] == ["2026-09-01", "2026-09-02"]
    assert ingest_labels(config, "2026-09-05")["labels_accepted"] == []

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


def test_a_rerun_that_now_fails_retracts_what_the_acceptance_produced(setup) -> None:
    config, lake = setup
    day = "2026-09-06"
    assert ingest_batch(config, day)["status"] == "accepted"
    lake.write_parquet(pd.DataFrame({"prediction": [1]}), lake.predictions(day))  # what scoring and monitoring
    lake.write_json({"drifted_features": ["amount"]}, lake.report_dir(day) / "drift.json")  # made of it
    good = lake.landing("batches", day).read_bytes()
    broken = pd.read_parquet(lake.landing("batches", day)).drop(columns=["amount"])  # upstream re-sent it broken
    lake.write_parquet(broken, lake.landing("batches", day))
    try:
        assert ingest_batch(config, day)["status"] == "quarantined"
    finally:
        lake.landing("batches", day).write_bytes(good)
    assert decisions.batch_status(lake, day) == "quarantined"
    assert not lake.validated("batches", day).exists() and not lake.predictions(day).exists()
    assert not (lake.report_dir(day) / "drift.json").exists()  # no longer feeds the drift streak
    assert [e["action"] for e in decisions.for_batch(lake, day)] == ["accept_batch", "quarantine_batch"]


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
    # 09-02's batch is quarantined: its labels wait for its release instead of being refused
    assert first["labels_accepted"] == ["2026-09-01"] and first["labels_waiting"] == ["2026-09-02"]
    again = ingest_labels(config, "2026-09-05")
    assert again["labels_accepted"] == [] and again["labels_waiting"] == ["2026-09-02"]
    waits = [e for e in decisions.for_batch(lake, "2026-09-02") if e.get("alert") == "labels_waiting"]
    assert len(waits) == 1  # said once, not every day


def test_labels_wait_for_their_batch_and_are_checked_again_when_they_change(tmp_path) -> None:
    from modelguard.ingest import release_labels

    config = load_config(write_config(tmp_path))
    simulate(config.storage_root, days=2, rows=300, reference_rows=1500, incidents=[parse_incident("null_storm@1")])
    lake = Lake(config.storage_root)
    lake.write_json(build_batch_suite(pd.read_parquet(lake.reference_train), config), lake.expectation_suite("batches"))
    lake.write_json(build_label_suite(config), lake.expectation_suite("labels"))
    good, bad = "2026-09-01", "2026-09-02"
    landing = lake.root / "landing" / "labels"
    landing.mkdir(parents=True, exist_ok=True)
    for day in (good, bad):  # the labels land the same day as their batches, before ingest has run
        lake.copy_file(lake.simulation_dir / "labels" / f"{day}.parquet", landing / f"{day}.parquet")

    assert ingest_labels(config, good)["labels_waiting"] == [good, bad]  # no batch yet: wait, no verdict
    assert not (lake.quarantine_dir(good, "labels")).exists()
    assert ingest_batch(config, good)["status"] == "accepted"
    assert ingest_batch(config, bad)["status"] == "quarantined"
    checked = ingest_labels(config, bad)
    assert checked["labels_accepted"] == [good] and checked["labels_waiting"] == [bad]

    # the bad batch is fixed and released: its labels are checked on the next run
    fixed = pd.read_parquet(lake.landing("batches", bad))
    fixed = fixed.fillna({c: fixed[c].median() for c in config.model.features.numeric})
    lake.write_parquet(fixed, lake.quarantine_dir(bad) / "fixed.parquet")
    assert release_batch(config, bad)["status"] == "accepted", decisions.for_batch(lake, bad)[-1]["reason"]
    assert decisions.batch_status(lake, bad) == "released"
    assert ingest_labels(config, bad)["labels_accepted"] == [bad]

    # corrected labels for a day: checked again, with their own line; the old line stays
    corrected = pd.read_parquet(landing / f"{good}.parquet")
    corrected[config.model.target] = 1 - corrected[config.model.target]
    lake.write_parquet(corrected, landing / f"{good}.parquet")
    assert ingest_labels(config, bad)["labels_accepted"] == [good]
    lines = [e["reason"] for e in decisions.for_batch(lake, good) if e.get("kind") == "labels"
             and e["action"] == "accept_batch"]
    assert len(lines) == 2 and "corrected labels" in lines[1]
    assert pd.read_parquet(lake.validated("labels", good))[config.model.target].equals(corrected[config.model.target])

    # a broken correction is quarantined (and retracts the day's labels); its fix is released like a batch
    broken = corrected.assign(**{config.model.id_column: corrected[config.model.id_column].astype(str) + "-x"})
    lake.write_parquet(broken, landing / f"{good}.parquet")
    assert ingest_labels(config, bad)["labels_quarantined"] == [good]
    assert not lake.validated("labels", good).exists()
    lake.write_parquet(corrected, lake.quarantine_dir(good, "labels") / "fixed.parquet")
    assert release_labels(config, good)["status"] == "accepted"
    assert lake.validated("labels", good).exists()
    assert decisions.for_batch(lake, good)[-1]["dag_id"] == "modelguard_release"


def test_a_page_corrupted_deep_in_a_streamed_batch_is_quarantined_whole(setup) -> None:
    """Batches are validated chunk by chunk: a row group that cannot be decoded, after good ones, still
    quarantines the file as unreadable and nothing of it reaches validated/."""
    import pyarrow.parquet as pq

    config, lake = setup
    day = "2026-09-06"
    path = lake.landing("batches", day)
    frame = pd.read_parquet(path)
    frame.to_parquet(path, index=False, row_group_size=100, compression="snappy")
    meta = pq.ParquetFile(path).metadata
    last = meta.row_group(meta.num_row_groups - 1).column(1)  # a page of the last row group, footer intact
    data = bytearray(path.read_bytes())
    start = last.data_page_offset + 20
    data[start:start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    result = ingest_batch(config, day)
    assert result["status"] == "quarantined"
    reason = json.loads((lake.quarantine_dir(day) / "reason.json").read_text())["reason"]
    assert reason.startswith(f"cannot read {day}.parquet"), reason
    assert not lake.validated("batches", day).exists()

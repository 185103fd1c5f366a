from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from modelguard.simulate import default_incidents, deliver_labels, parse_incident, simulate
from modelguard.storage import Lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("sim")
    simulate(root, days=12, rows=1500, reference_rows=3000,
             incidents=[parse_incident("schema_change@2"), parse_incident("null_storm@3"),
                        parse_incident("unit_change@4"), parse_incident("new_category@5"),
                        parse_incident("concept_drift@8")])
    return Lake(root)


def test_batches_look_like_card_transactions(lake: Lake) -> None:
    frame = pd.read_parquet(lake.landing("batches", "2026-09-01"))
    assert len(frame) == 1500 and frame["transaction_id"].is_unique
    assert frame.select_dtypes("number").shape[1] >= 8 and frame.select_dtypes("object").shape[1] >= 5
    reference = pd.read_parquet(lake.reference_train)
    assert 0.01 <= reference["is_fraud"].mean() <= 0.03
    assert reference["event_time"].max() < pd.Timestamp("2026-09-01")


def test_incidents_change_the_batches_as_scripted(lake: Lake) -> None:
    schema = pd.read_parquet(lake.landing("batches", "2026-09-03"))
    assert "merchant_category" not in schema and "promo_code_id" in schema
    nulls = pd.read_parquet(lake.landing("batches", "2026-09-04"))
    assert nulls["customer_age"].isna().mean() > 0.5
    cents = pd.read_parquet(lake.landing("batches", "2026-09-05"))
    normal = pd.read_parquet(lake.landing("batches", "2026-09-01"))
    assert cents["amount"].median() > 50 * normal["amount"].median()
    campaign = pd.read_parquet(lake.landing("batches", "2026-09-06"))
    assert (campaign["merchant_category"] == "artisanal_crafts").mean() > 0.3


def test_schedule_lists_each_incident_with_its_expected_response(lake: Lake) -> None:
    schedule = lake.read_json(lake.simulation_dir / "schedule.json")
    assert [(i["batch_id"], i["kind"], i["expected_response"]) for i in schedule["incidents"]][-1] == \
        ("2026-09-09", "concept_drift", "request_approval")
    assert schedule["label_delay_days"] == 3


def test_labels_arrive_late(lake: Lake, tmp_path: Path) -> None:
    assert deliver_labels(lake.root, "2026-09-03") == []
    assert deliver_labels(lake.root, "2026-09-05") == ["2026-09-01", "2026-09-02"]
    assert deliver_labels(lake.root, "2026-09-05") == []


def test_the_default_script_covers_the_field_guide() -> None:
    kinds = [i.kind for i in default_incidents(60)]
    assert kinds == ["schema_change", "null_storm", "unit_change", "new_category", "concept_drift", "reversal"]
    with pytest.raises(ValueError, match="unknown incident kind"):
        parse_incident("meteor@3")

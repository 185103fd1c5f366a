"""The root-cause checklist, one row per situation of the field guide."""

from __future__ import annotations

import pytest

from modelguard.checklist import build_checklist, to_markdown

QUIET = {"batch_status": "accepted", "output_description": "predicted positive rate 3.00% vs 2.80% in reference",
         "skew_max_difference": 0.0, "realized": 0.86, "baseline": 0.87}

CASES = [
    ("quiet day", {}, "none", {}),
    ("schema change", {"batch_status": "quarantined", "failures": ["schema: missing columns merchant_category"]},
     "quarantine", {"Schema consistency": "Fail"}),
    ("null storm", {"batch_status": "quarantined",
                    "failures": ["column 'customer_age': expect_column_values_to_not_be_null failed for 70.0% of rows"]},
     "quarantine", {"Missing values": "Fail"}),
    ("missing batch", {"batch_status": "missing"}, "investigate", {"Data freshness": "Fail"}),
    ("covariate drift", {"drifted_features": ["merchant_category"]}, "investigate", {"Distribution shift": "Investigate"}),
    ("output anomaly", {"output_anomaly": "predicted positive rate 90.00% against 2.80% in reference"}, "investigate", {"Output distribution": "Fail"}),
    ("concept drift", {"performance_alert": True, "realized": 0.3}, "retrain", {"Error analysis": "Fail"}),
    ("bad promotion", {"performance_alert": True, "rollback": True}, "rollback", {}),
    ("registry down", {"registry_ok": False, "registry_error": "connection refused"}, "investigate",
     {"Model registry reachable, champion loads": "Fail"}),
    ("training/serving skew", {"skew_max_difference": 0.2}, "investigate", {"Training/serving consistency": "Fail"}),
]


@pytest.mark.parametrize(("situation", "evidence", "response", "statuses"), CASES, ids=[c[0] for c in CASES])
def test_checklist(situation: str, evidence: dict, response: str, statuses: dict) -> None:
    result = build_checklist({**QUIET, **evidence})
    assert result["recommended_response"] == response
    by_item = {c["item"]: c["status"] for c in result["checks"]}
    for item, status in statuses.items():
        assert by_item[item] == status
    if situation == "quiet day":
        assert set(by_item.values()) == {"Pass"}
    assert "| Diagnosis step |" in to_markdown("2026-09-01", result)


def test_landed_values_stay_text_in_the_markdown_and_the_quarantine_report() -> None:
    from pathlib import Path

    from modelguard.ingest import _report_html
    from modelguard.validation import ValidationResult
    from tests.corruptions import SCRIPT_PAYLOAD

    checklist = {"recommended_response": "quarantine", "checks": [
        {"step": "Verify data inputs", "item": "Schema", "status": "Fail", "note": f"unexpected column {SCRIPT_PAYLOAD}\n| x"}]}
    markdown = to_markdown("2026-09-05", checklist)
    assert "<script" not in markdown and "<img" not in markdown and "&lt;/script&gt;" in markdown
    assert markdown.count("\n") == 7  # the note's line break cannot open a new table row
    failure = {"severity": "critical", "summary": SCRIPT_PAYLOAD, "expected": {"value_set": [SCRIPT_PAYLOAD]},
               "observed": {}, "sample": [SCRIPT_PAYLOAD]}
    page = _report_html("2026-09-05", "batches", Path(f"{SCRIPT_PAYLOAD}.parquet"),
                        ValidationResult(accepted=False, failures=[failure]))
    assert "<script" not in page.lower() and "<img" not in page.lower()

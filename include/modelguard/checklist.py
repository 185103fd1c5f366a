"""The field guide's root-cause checklist, filled in for a batch from what the pipeline measured.

`build_checklist(evidence)` is pure: evidence (a dict of plain values gathered by the monitor)
in, rows of (step, item, status, note) and a recommended response out. Status is Pass, Fail or
Investigate, as in the guide's table.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass

PASS, FAIL, INVESTIGATE = "Pass", "Fail", "Investigate"


@dataclass(frozen=True)
class Check:
    step: str
    item: str
    status: str
    note: str


def build_checklist(evidence: dict) -> dict:
    """Evidence keys (all optional): batch_status, failures (list of str), warnings (list of str),
    drifted_features, score_drifted, output_anomaly (a sentence, or None), output_description,
    skew_max_difference, registry_ok, registry_error, champion_loads, performance_alert, rollback,
    realized, baseline, estimated, estimate_note, worst_segments."""
    rows: list[Check] = []
    status = evidence.get("batch_status", "accepted")
    failures = evidence.get("failures") or []
    warnings = evidence.get("warnings") or []
    schema = [f for f in failures + warnings if f.startswith("schema") or "type_list" in f]
    rows.append(Check("Verify data inputs", "Schema consistency",
                      FAIL if any(f in failures for f in schema) else INVESTIGATE if schema else PASS,
                      "; ".join(schema) or "columns and types as in the reference"))
    nulls = [f for f in failures + warnings if "not_be_null" in f]
    rows.append(Check("Verify data inputs", "Missing values", FAIL if any(f in failures for f in nulls) else PASS,
                      "; ".join(nulls) or "null shares within the reference's"))
    drifted = evidence.get("drifted_features") or []
    ranges = [f for f in failures if "be_between" in f or "in_set" in f]
    rows.append(Check("Verify data inputs", "Distribution shift",
                      FAIL if ranges else INVESTIGATE if drifted or warnings else PASS,
                      "; ".join(ranges) or (f"drifted: {', '.join(drifted)}" if drifted else "no feature drifted")))
    rows.append(Check("Verify data inputs", "Data freshness", FAIL if status == "missing" else PASS,
                      "no batch landed for the day" if status == "missing" else "batch on time"))
    skew = evidence.get("skew_max_difference")
    rows.append(Check("Check feature engineering", "Training/serving consistency",
                      PASS if skew is not None and skew < 1e-9 else INVESTIGATE if skew is None else FAIL,
                      "not measured (batch not scored)" if skew is None
                      else f"re-scoring served rows offline differs by at most {skew:.2e}"))
    anomaly = evidence.get("output_anomaly")  # the task kind's output check (modelguard.task_kinds)
    rows.append(Check("Examine model predictions", "Output distribution",
                      FAIL if anomaly else INVESTIGATE if evidence.get("score_drifted") else PASS,
                      anomaly or evidence.get("output_description") or "no predictions today"))
    realized, baseline = evidence.get("realized"), evidence.get("baseline")
    worst = evidence.get("worst_segments") or []
    rows.append(Check("Examine model predictions", "Error analysis",
                      FAIL if evidence.get("performance_alert") else PASS if realized is not None else INVESTIGATE,
                      (f"realized {realized:.3f} vs baseline {baseline:.3f}" if realized is not None and baseline
                       else "no labels yet")
                      + (f"; estimated {evidence['estimated']:.3f} before labels" if evidence.get("estimated") else "")
                      + (f"; {evidence['estimate_note']}" if evidence.get("estimate_note") else "")
                      + (f"; worst segments: {', '.join(worst)}" if worst else "")))
    rows.append(Check("Review external dependencies", "Model registry reachable, champion loads",
                      PASS if evidence.get("registry_ok", True) and evidence.get("champion_loads", True) else FAIL,
                      evidence.get("registry_error") or "registry answered and the champion loaded"))

    if status in ("quarantined", "missing"):
        response = "quarantine" if status == "quarantined" else "investigate"
    elif evidence.get("rollback"):
        response = "rollback"
    elif evidence.get("performance_alert"):
        response = "retrain"
    elif any(r.status != PASS for r in rows):
        response = "investigate"
    else:
        response = "none"
    return {"checks": [asdict(r) for r in rows], "recommended_response": response}


def to_markdown(batch_id: str, checklist: dict) -> str:
    lines = [f"# Root-cause checklist for {batch_id}", "",
             f"Recommended response: **{checklist['recommended_response']}**", "",
             "| Diagnosis step | Checklist item | Status | Notes |", "|---|---|---|---|"]
    lines += [f"| {c['step']} | {c['item']} | {c['status']} | {_cell(c['note'])} |" for c in checklist["checks"]]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A table cell of Markdown that stays text: notes quote landed values (column names, categories), and
    Markdown viewers render raw HTML."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "/")

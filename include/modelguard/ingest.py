"""Ingest stage: validate the day's landed batch and any newly landed labels; accept or quarantine.

An accepted batch is copied to `validated/`; a rejected one goes to `quarantine/<batch_id>/` with
its original file untouched, `reason.json` (failed expectations, observed vs expected, sample
rows) and `report.html`. A quarantined batch is never scored, used as a baseline or trained on.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from modelguard import decisions
from modelguard.config import PipelineConfig
from modelguard.storage import Lake
from modelguard.validation import ValidationResult, validate

DAG_ID = "modelguard_ingest"


def read_landed(path: Path, timestamp_column: str | None = None) -> pd.DataFrame:
    """Read a landed parquet or CSV file; any failure becomes a ValueError naming the file."""
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, encoding="utf-8")
            if timestamp_column and timestamp_column in frame.columns:
                frame[timestamp_column] = pd.to_datetime(frame[timestamp_column], errors="coerce")
        else:
            frame = pd.read_parquet(path)
    except Exception as error:  # noqa: BLE001 - any reader error means the file is unusable
        raise ValueError(f"cannot read {path.name}: {type(error).__name__}: {error}") from None
    return frame


def _report_html(batch_id: str, kind: str, source: Path, result: ValidationResult) -> str:
    rows = "".join(
        f"<tr class='{html.escape(f['severity'])}'><td>{html.escape(f['severity'])}</td>"
        f"<td>{html.escape(f['summary'])}</td><td><code>{html.escape(str(f['expected']))}</code></td>"
        f"<td><code>{html.escape(str(f['observed']))}</code></td>"
        f"<td><code>{html.escape(str(f['sample'][:5]))}</code></td></tr>"
        for f in [*result.failures, *result.warnings]
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{kind} {batch_id}: quarantined</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
table{{border-collapse:collapse}}.critical td:first-child{{color:#b00;font-weight:bold}}</style></head><body>
<h1>{kind[:-1].capitalize()} {html.escape(batch_id)} was quarantined</h1>
<p>Original file kept as it arrived: <code>{html.escape(source.name)}</code>. Reason: {html.escape(result.reason)}</p>
<p>Fix the file, place it in <code>quarantine/{html.escape(batch_id)}/</code> or <code>landing/</code>, and trigger
the <code>modelguard_release</code> DAG with this batch_id.</p>
<table><tr><th>severity</th><th>what failed</th><th>expected</th><th>observed</th><th>sample rows</th></tr>{rows}</table>
</body></html>"""


def _quarantine(lake: Lake, kind: str, batch_id: str, source: Path, result: ValidationResult) -> Path:
    folder = lake.quarantine_dir(batch_id, kind)
    kept = folder / source.name
    if source.resolve() != kept.resolve():
        lake.copy_file(source, kept)
    lake.write_json({"batch_id": batch_id, "kind": kind, "original_file": kept.name, **result.to_dict()},
                    folder / "reason.json")
    lake.write_text(_report_html(batch_id, kind, source, result), folder / "report.html")
    lake.validated(kind, batch_id).unlink(missing_ok=True)  # a rerun that now fails retracts acceptance
    return folder


def _unreadable(error: Exception) -> ValidationResult:
    failure = {"expectation": "file_is_readable", "column": None, "severity": "critical", "expected": {},
               "observed": {}, "sample": [], "exception": str(error), "summary": str(error)}
    return ValidationResult(accepted=False, failures=[failure])


def check_file(lake: Lake, config: PipelineConfig, kind: str, batch_id: str, source: Path) -> ValidationResult:
    """Validate one landed file (batches or labels) and file it as validated or quarantined."""
    suite = lake.read_json(lake.expectation_suite(kind))
    if suite is None:
        raise FileNotFoundError(f"no expectation suite at {lake.expectation_suite(kind)}; run `modelguard init`")
    try:
        frame = read_landed(source, config.model.timestamp_column)
        result = validate(frame, suite, config.model.id_column)
    except ValueError as error:
        frame, result = None, _unreadable(error)
    if result.accepted:
        lake.write_parquet(frame, lake.validated(kind, batch_id))
        if lake.quarantine_dir(batch_id, kind).exists():  # released: the fixed file replaced the bad one
            lake.write_json({"batch_id": batch_id, "released": True, **result.to_dict()},
                            lake.quarantine_dir(batch_id, kind) / "released.json")
    else:
        _quarantine(lake, kind, batch_id, source, result)
    return result


def ingest_batch(config: PipelineConfig, batch_id: str) -> dict:
    """Validate `landing/batches/<batch_id>.*`; record accept_batch or quarantine_batch."""
    lake = Lake(config.storage_root)
    source = lake.landing("batches", batch_id)
    if source is None:
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action",
                         reason=f"no batch landed for {batch_id}", alert="missing_batch")
        return {"batch_id": batch_id, "status": "missing"}
    result = check_file(lake, config, "batches", batch_id, source)
    status = "accepted" if result.accepted else "quarantined"
    decisions.record(
        lake, batch_id=batch_id, dag_id=DAG_ID,
        action="accept_batch" if result.accepted else "quarantine_batch",
        reason=result.reason if not result.accepted else (
            "accepted with warnings: " + "; ".join(w["summary"] for w in result.warnings[:3])
            if result.warnings else "all expectations passed"),
        failed=[f["summary"] for f in result.failures], warnings=[w["summary"] for w in result.warnings],
    )
    return {"batch_id": batch_id, "status": status, "failures": len(result.failures),
            "warnings": len(result.warnings)}


def ingest_labels(config: PipelineConfig, batch_id: str) -> dict:
    """Validate every landed label file not validated or quarantined yet (labels arrive days late)."""
    lake = Lake(config.storage_root)
    accepted, quarantined = [], []
    for label_id in lake.landed_ids("labels"):
        if lake.validated("labels", label_id).exists() or (lake.quarantine_dir(label_id, "labels") / "reason.json").exists():
            continue
        result = check_file(lake, config, "labels", label_id, lake.landing("labels", label_id))
        (accepted if result.accepted else quarantined).append(label_id)
        if not result.accepted:
            decisions.record(lake, batch_id=label_id, dag_id=DAG_ID, action="quarantine_batch",
                             reason=f"labels: {result.reason}", kind="labels", on_day=batch_id)
    return {"batch_id": batch_id, "labels_accepted": accepted, "labels_quarantined": quarantined}


def release_batch(config: PipelineConfig, batch_id: str) -> dict:
    """Re-validate a quarantined batch from a fixed file and, if it passes, accept it.

    The fixed file is `quarantine/<batch_id>/fixed.parquet|csv` if a person put one there, else the
    landing file (replaced in place). The original bad file stays in quarantine either way.
    """
    lake = Lake(config.storage_root)
    folder = lake.quarantine_dir(batch_id)
    fixed = next((folder / f"fixed{s}" for s in (".parquet", ".csv") if (folder / f"fixed{s}").exists()), None)
    source = fixed or lake.landing("batches", batch_id)
    if source is None:
        raise FileNotFoundError(f"nothing to release for {batch_id}: no fixed file in {folder} and none in landing")
    result = check_file(lake, config, "batches", batch_id, source)
    decisions.record(
        lake, batch_id=batch_id, dag_id="modelguard_release",
        action="accept_batch" if result.accepted else "quarantine_batch",
        reason=("released from quarantine after re-validation of " + source.name) if result.accepted
        else f"release refused, still failing: {result.reason}",
    )
    return {"batch_id": batch_id, "status": "accepted" if result.accepted else "quarantined", "source": str(source)}

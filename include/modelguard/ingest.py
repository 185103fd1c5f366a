"""Ingest stage: validate the day's landed batch and any newly landed labels; accept or quarantine.

An accepted batch is copied to `validated/`; a rejected one goes to `quarantine/<batch_id>/` with
its original file untouched, `reason.json` (failed expectations, observed vs expected, sample
rows) and `report.html`. A quarantined batch is never scored, used as a baseline or trained on.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd

from modelguard import decisions
from modelguard.batch_days import batch_clock
from modelguard.config import PipelineConfig
from modelguard.storage import Lake
from modelguard.suites import batch_parameters
from modelguard.validation import ValidationResult, validate

DAG_ID = "modelguard_ingest"


def read_landed(path: Path, timestamp_column: str | None = None) -> pd.DataFrame:
    """Read a landed parquet or CSV file; any failure becomes a ValueError saying what is wrong."""
    if path.stat().st_size == 0:
        raise ValueError(f"cannot read {path.name}: the file is empty (0 bytes)")
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, encoding="utf-8", on_bad_lines="error", low_memory=False)
            if timestamp_column and timestamp_column in frame.columns:
                raw = frame[timestamp_column]
                frame[timestamp_column] = pd.to_datetime(raw, errors="coerce", format="ISO8601")
                unparsed = int((frame[timestamp_column].isna() & raw.notna()).sum())
                if unparsed:
                    raise ValueError(f"{unparsed} values of {timestamp_column!r} are not timestamps "
                                     f"(e.g. {raw[frame[timestamp_column].isna() & raw.notna()].iloc[0]!r})")
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as error:
        raise ValueError(f"cannot read {path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"cannot read {path.name}: malformed CSV ({str(error).strip()})") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"cannot read {path.name}: no columns (empty CSV)") from None
    except ValueError as error:
        raise ValueError(f"cannot read {path.name}: {error}") from None
    except Exception as error:  # noqa: BLE001 - any other reader error means the file is unusable
        raise ValueError(f"cannot read {path.name}: {type(error).__name__}: {error}") from None
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"cannot use {path.name}: duplicate column names {duplicated}")
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


def _unknown_label_ids(lake: Lake, config: PipelineConfig, batch_id: str, labels: pd.DataFrame) -> dict | None:
    """Labels must belong to rows of their batch (accepted or quarantined): otherwise a join drops them silently."""
    key = config.model.id_column
    batch = lake.validated("batches", batch_id)
    if not batch.exists():
        kept = [p for p in lake.quarantine_dir(batch_id).glob(f"{batch_id}.*")] if lake.quarantine_dir(batch_id).exists() else []
        if not kept:
            return {"expectation": "label_ids_belong_to_their_batch", "column": key, "severity": "critical",
                    "expected": {"batch": batch_id}, "observed": {}, "sample": [], "exception": None,
                    "summary": f"labels for {batch_id}, but no batch of that day was received"}
        try:
            ids = read_landed(kept[0])[key]
        except (ValueError, KeyError):
            return None  # the batch itself is unreadable; its quarantine already says why
    else:
        ids = pd.read_parquet(batch, columns=[key])[key]
    unknown = ~labels[key].isin(ids)
    if not unknown.any():
        return None
    return {"expectation": "label_ids_belong_to_their_batch", "column": key, "severity": "critical",
            "expected": {"batch": batch_id}, "observed": {"unexpected_count": int(unknown.sum()),
                                                          "element_count": len(labels)},
            "sample": labels.loc[unknown, key].head(10).tolist(), "exception": None,
            "summary": f"column {key!r}: {int(unknown.sum())} label ids are not rows of batch {batch_id}"}


def check_file(lake: Lake, config: PipelineConfig, kind: str, batch_id: str, source: Path) -> ValidationResult:
    """Validate one landed file (batches or labels) and file it as validated or quarantined."""
    suite = lake.read_json(lake.expectation_suite(kind))
    if suite is None:
        raise FileNotFoundError(f"no expectation suite at {lake.expectation_suite(kind)}; run `modelguard init`")
    try:
        frame = read_landed(source, config.model.timestamp_column if kind == "batches" else None)
        schedule = config.schedule
        parameters = batch_parameters(batch_id, now=batch_clock(dt.datetime.now(dt.UTC), schedule),
                                      timezone=schedule.timezone) if kind == "batches" else {}
        result = validate(frame, suite, config.model.id_column, parameters)
    except ValueError as error:
        frame, result = None, _unreadable(error)
    if result.accepted and kind == "labels":
        unknown = _unknown_label_ids(lake, config, batch_id, frame)
        if unknown:
            result = ValidationResult(accepted=False, failures=[unknown], warnings=result.warnings,
                                      evaluated=result.evaluated + 1)
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

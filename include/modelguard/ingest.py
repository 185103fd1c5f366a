"""Ingest stage: validate the day's landed batch and any newly landed labels; accept or quarantine.

An accepted batch is copied to `validated/`; a rejected one goes to `quarantine/<batch_id>/` with
its original file untouched, `reason.json` (failed expectations, observed vs expected, sample
rows) and `report.html`. A quarantined batch is never scored, used as a baseline or trained on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import shutil
from pathlib import Path

import pandas as pd

from modelguard import decisions
from modelguard.batch_days import batch_clock, parse_batch_id
from modelguard.config import PipelineConfig
from modelguard.storage import Lake, atomic_path
from modelguard.suites import batch_parameters, csv_dtypes
from modelguard.validation import ValidationResult, validate, validate_parquet

DAG_ID = "modelguard_ingest"


def read_landed(path: Path, timestamp_column: str | None = None, name: str | None = None,
                dtypes: dict[str, object] | None = None) -> pd.DataFrame:
    """Read a landed parquet or CSV file; any failure becomes a ValueError saying what is wrong.
    `name`: the landed file's name when `path` is a snapshot of it (messages and format follow the name).
    `dtypes`: how to read CSV columns, as the suite expects them (`suites.csv_dtypes`: codes such as "02139"
    stay text instead of becoming the number 2139; integer codes with gaps stay integers, not floats)."""
    name = name or path.name
    if path.stat().st_size == 0:
        raise ValueError(f"cannot read {name}: the file is empty (0 bytes)")
    try:
        if name.endswith(".csv"):
            frame = pd.read_csv(path, encoding="utf-8", on_bad_lines="error", low_memory=False,
                                dtype=dtypes)
            if timestamp_column and timestamp_column in frame.columns:
                raw = frame[timestamp_column]
                # values with a UTC offset are read as instants (in UTC; offsets may differ row to row)
                zoned = bool(raw.astype(str).str.contains(r"(?:Z|[+-]\d\d:?\d\d)$").any())
                frame[timestamp_column] = pd.to_datetime(raw, errors="coerce", format="ISO8601", utc=zoned)
                unparsed = int((frame[timestamp_column].isna() & raw.notna()).sum())
                if unparsed:
                    raise ValueError(f"{unparsed} values of {timestamp_column!r} are not timestamps "
                                     f"(e.g. {raw[frame[timestamp_column].isna() & raw.notna()].iloc[0]!r})")
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as error:
        raise ValueError(f"cannot read {name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"cannot read {name}: malformed CSV ({str(error).strip()})") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"cannot read {name}: no columns (empty CSV)") from None
    except ValueError as error:
        raise ValueError(f"cannot read {name}: {error}") from None
    except Exception as error:  # noqa: BLE001 - any other reader error means the file is unusable
        raise ValueError(f"cannot read {name}: {type(error).__name__}: {error}") from None
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"cannot use {name}: duplicate column names {duplicated}")
    return frame


def landed_parquet_columns(path: Path, name: str | None = None) -> list[str]:
    """The columns of a landed parquet file, from its footer alone (the rows are streamed later); any
    failure becomes a ValueError saying what is wrong, worded as `read_landed` words it."""
    import pyarrow.parquet as pq

    name = name or path.name
    if path.stat().st_size == 0:
        raise ValueError(f"cannot read {name}: the file is empty (0 bytes)")
    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except ValueError as error:
        raise ValueError(f"cannot read {name}: {error}") from None
    except Exception as error:  # noqa: BLE001 - any other reader error means the file is unusable
        raise ValueError(f"cannot read {name}: {type(error).__name__}: {error}") from None
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise ValueError(f"cannot use {name}: duplicate column names {duplicated}")
    return names


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
    # A rerun that now fails retracts what the earlier acceptance produced: nothing of it may feed
    # scoring, the drift streak or training any more (its log lines stay: the log is append-only).
    lake.validated(kind, batch_id).unlink(missing_ok=True)
    if kind == "batches":
        lake.predictions(batch_id).unlink(missing_ok=True)
        for name in ("drift.json", "drift.html"):
            (lake.report_dir(batch_id) / name).unlink(missing_ok=True)
    return folder


def _verdict_reason(result: ValidationResult) -> str:
    """The log's reason for a file's verdict: what failed, or the first warnings it was accepted with."""
    if not result.accepted:
        return result.reason
    if result.warnings:
        return "accepted with warnings: " + "; ".join(w["summary"] for w in result.warnings[:3])
    return "all expectations passed"


def _unreadable(error: Exception) -> ValidationResult:
    failure = {"expectation": "file_is_readable", "column": None, "severity": "critical", "expected": {},
               "observed": {}, "sample": [], "exception": str(error), "summary": str(error)}
    return ValidationResult(accepted=False, failures=[failure])


def _unknown_label_ids(lake: Lake, config: PipelineConfig, batch_id: str, labels: pd.DataFrame) -> dict | None:
    """Labels must belong to rows of their (accepted) batch: otherwise a join drops them silently."""
    key = config.model.id_column
    ids = pd.read_parquet(lake.validated("batches", batch_id), columns=[key])[key]
    unknown = ~labels[key].isin(ids)
    if not unknown.any():
        return None
    return {"expectation": "label_ids_belong_to_their_batch", "column": key, "severity": "critical",
            "expected": {"batch": batch_id}, "observed": {"unexpected_count": int(unknown.sum()),
                                                          "element_count": len(labels)},
            "sample": labels.loc[unknown, key].head(10).tolist(), "exception": None,
            "summary": f"column {key!r}: {int(unknown.sum())} label ids are not rows of batch {batch_id}"}


def file_sha256(path: Path) -> str:
    """What a landed file holds, so a replaced or corrected file is checked again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _streamed(path: Path, name: str, suite: dict, id_column: str, parameters: dict) -> ValidationResult:
    """validate_parquet, with a row group that cannot be decoded reported like any unreadable file."""
    import pyarrow as pa

    try:
        return validate_parquet(path, suite, id_column, parameters)
    except (pa.ArrowException, OSError) as error:  # a corrupt page deep in the file: the file is unusable
        raise ValueError(f"cannot read {name}: {type(error).__name__}: {error}") from None


def check_file(lake: Lake, config: PipelineConfig, kind: str, batch_id: str, source: Path) -> ValidationResult:
    """Validate one landed file (batches or labels) and file it as validated or quarantined."""
    suite = lake.read_json(lake.expectation_suite(kind))
    if suite is None:
        raise FileNotFoundError(f"no expectation suite at {lake.expectation_suite(kind)}; run `modelguard init`")
    target = lake.validated(kind, batch_id)
    with atomic_path(target) as snapshot:
        # A parquet file is validated from a snapshot copy, which becomes the validated file as it is: what
        # was checked is what is served (a file replaced meanwhile is not), and 1M rows are not re-encoded.
        copied = not source.name.endswith(".csv")
        if copied:
            shutil.copyfile(source, snapshot)
        frame = None
        try:
            schedule = config.schedule
            parameters = batch_parameters(batch_id, now=batch_clock(dt.datetime.now(dt.UTC), schedule),
                                          timezone=schedule.timezone) if kind == "batches" else {}
            if copied and kind == "batches":
                # Streamed: a batch of any size is validated in chunks of rows, never held whole in memory.
                landed_parquet_columns(snapshot, source.name)
                result = _streamed(snapshot, source.name, suite, config.model.id_column, parameters)
            else:
                batch = kind == "batches"
                frame = read_landed(snapshot if copied else source, config.model.timestamp_column if batch else None,
                                    name=source.name,
                                    dtypes=csv_dtypes(suite, config.model.features.categorical) if batch else None)
                result = validate(frame, suite, config.model.id_column, parameters)
        except ValueError as error:
            result = _unreadable(error)
        if result.accepted and kind == "labels":
            unknown = _unknown_label_ids(lake, config, batch_id, frame)
            if unknown:
                result = ValidationResult(accepted=False, failures=[unknown], warnings=result.warnings,
                                          evaluated=result.evaluated + 1)
        if not result.accepted:
            snapshot.unlink()  # nothing of a rejected file reaches validated/
        elif not copied:
            frame.to_parquet(snapshot, index=False)
    if result.accepted:
        if lake.quarantine_dir(batch_id, kind).exists():  # released: the fixed file replaced the bad one
            lake.write_json({"batch_id": batch_id, "released": True, **result.to_dict()},
                            lake.quarantine_dir(batch_id, kind) / "released.json")
    else:
        _quarantine(lake, kind, batch_id, source, result)
    return result


def _batch_verdict(lake: Lake, batch_id: str) -> dict | None:
    """The latest ingest or release line about a day's batch file: the verdict that holds (as batch_status)."""
    lines = [e for e in decisions.for_batch(lake, batch_id) if e.get("kind") != "labels"
             and e.get("dag_id") in decisions.INGEST_DAGS]
    return lines[-1] if lines else None


def _released_file(lake: Lake, batch_id: str) -> Path | None:
    """The file a released day's verdict rests on (its `fixed.*`, or the landing file replaced in place);
    None for a day never released."""
    released = any(e.get("dag_id") == "modelguard_release" and e["action"] == "accept_batch"
                   and e.get("kind") != "labels" for e in decisions.for_batch(lake, batch_id))
    return _release_source(lake, "batches", batch_id) if released else None


def ingest_batch(config: PipelineConfig, batch_id: str) -> dict:
    """Validate `landing/batches/<batch_id>.*`; record accept_batch or quarantine_batch.

    A released day is validated from its released file, never from the bad landing file it replaced: a
    rerun (a replay over the range, a cleared task, a backfill) keeps the release. A rerun reaching the
    verdict that holds on the same file adds no line, so it notifies nobody; a changed verdict, or one on
    a different file, is a new line (lines carry the file's `file_sha256`).
    """
    lake = Lake(config.storage_root)
    released = _released_file(lake, batch_id)
    source = released or lake.landing("batches", batch_id)
    if source is None:
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action",
                         reason=f"no batch landed for {batch_id}", alert="missing_batch")
        return {"batch_id": batch_id, "status": "missing"}
    digest = file_sha256(source)
    result = check_file(lake, config, "batches", batch_id, source)
    status = "accepted" if result.accepted else "quarantined"
    action = "accept_batch" if result.accepted else "quarantine_batch"
    last = _batch_verdict(lake, batch_id)
    # None: a line from before batch files were fingerprinted (the same file, as far as the log can tell)
    if last is None or last["action"] != action or last.get("file_sha256") not in (digest, None):
        decisions.record(
            lake, batch_id=batch_id, dag_id=DAG_ID, action=action, file_sha256=digest,
            reason=(f"the released file {source.name}: " if released else "") + _verdict_reason(result),
            failed=[f["summary"] for f in result.failures], warnings=[w["summary"] for w in result.warnings],
        )
    return {"batch_id": batch_id, "status": status, "failures": len(result.failures),
            "warnings": len(result.warnings)}


def _labels_verdict(lake: Lake, label_id: str) -> dict | None:
    """The latest accept or quarantine line about a day's label file."""
    lines = [e for e in decisions.for_batch(lake, label_id) if e.get("kind") == "labels"
             and e["action"] in ("accept_batch", "quarantine_batch")]
    return lines[-1] if lines else None


def _judged_before(lake: Lake, label_id: str, digest: str) -> bool:
    """A label file of this content had a verdict before (e.g. the quarantined file a release replaced)."""
    return any(e.get("kind") == "labels" and e.get("file_sha256") == digest
               and e["action"] in ("accept_batch", "quarantine_batch") for e in decisions.for_batch(lake, label_id))


def ingest_labels(config: PipelineConfig, batch_id: str) -> dict:
    """Validate every landed label file whose content has no verdict yet (labels arrive days late).

    Labels wait, without a verdict, while their day's batch is not accepted (not landed yet, late, or
    quarantined until its release); they are checked on the first run after it is. A replaced or
    corrected label file (new content) is checked again and gets its own line.
    """
    parse_batch_id(batch_id)  # the run's day, refused before any label file is read
    lake = Lake(config.storage_root)
    accepted, quarantined, waiting = [], [], []
    for label_id in lake.landed_ids("labels"):
        source = lake.landing("labels", label_id)
        digest = file_sha256(source)
        last = _labels_verdict(lake, label_id)
        if last is not None and last.get("file_sha256") in (digest, None):
            continue  # this very file has its verdict (None: a line from before files were fingerprinted)
        if last is not None and last.get("dag_id") == "modelguard_release" and _judged_before(lake, label_id, digest):
            continue  # the bad file a release replaced: the release holds (as for batches)
        status = decisions.batch_status(lake, label_id)
        if status not in decisions.USABLE:
            waiting.append(label_id)
            decisions.record(lake, batch_id=label_id, dag_id=DAG_ID, action="no_action", kind="labels",
                             alert="labels_waiting", file_sha256=digest, on_day=batch_id,
                             reason=f"labels for {label_id} wait: their batch is {status}; "
                                    "they are checked once it is accepted or released")
            continue
        result = check_file(lake, config, "labels", label_id, source)
        (accepted if result.accepted else quarantined).append(label_id)
        corrected = "corrected labels, " if last is not None else ""
        decisions.record(lake, batch_id=label_id, dag_id=DAG_ID, kind="labels", file_sha256=digest, on_day=batch_id,
                         action="accept_batch" if result.accepted else "quarantine_batch",
                         reason=f"labels: {corrected}{_verdict_reason(result)}")
    return {"batch_id": batch_id, "labels_accepted": accepted, "labels_quarantined": quarantined,
            "labels_waiting": waiting}


def _release_source(lake: Lake, kind: str, batch_id: str) -> Path:
    """The file to release: `quarantine/[labels/]<batch_id>/fixed.parquet|csv` if a person put one there,
    else the landing file (replaced in place)."""
    folder = lake.quarantine_dir(batch_id, kind)
    fixed = next((folder / f"fixed{s}" for s in (".parquet", ".csv") if (folder / f"fixed{s}").exists()), None)
    source = fixed or lake.landing(kind, batch_id)
    if source is None:
        raise FileNotFoundError(f"nothing to release for {batch_id} ({kind}): no fixed file in {folder} "
                                "and none in landing")
    return source


def release_labels(config: PipelineConfig, batch_id: str) -> dict:
    """Re-validate a quarantined label file from its fix (quarantine/labels/<id>/fixed.* or the landing
    file, replaced in place) and accept it if it passes; its batch must be accepted first."""
    lake = Lake(config.storage_root)
    source = _release_source(lake, "labels", batch_id)
    status = decisions.batch_status(lake, batch_id)
    if status not in decisions.USABLE:
        raise ValueError(f"labels for {batch_id} cannot be released: their batch is {status} (release it first)")
    result = check_file(lake, config, "labels", batch_id, source)
    decisions.record(
        lake, batch_id=batch_id, dag_id="modelguard_release", kind="labels", file_sha256=file_sha256(source),
        action="accept_batch" if result.accepted else "quarantine_batch",
        reason=(f"labels released from quarantine after re-validation of {source.name}" if result.accepted
                else f"labels release refused, still failing: {result.reason}"))
    return {"batch_id": batch_id, "status": "accepted" if result.accepted else "quarantined", "source": str(source)}


def release_batch(config: PipelineConfig, batch_id: str) -> dict:
    """Re-validate a quarantined batch from a fixed file and, if it passes, accept it.

    The fixed file is `quarantine/<batch_id>/fixed.parquet|csv` if a person put one there, else the
    landing file (replaced in place). The original bad file stays in quarantine either way.
    """
    lake = Lake(config.storage_root)
    source = _release_source(lake, "batches", batch_id)
    digest = file_sha256(source)
    result = check_file(lake, config, "batches", batch_id, source)
    decisions.record(
        lake, batch_id=batch_id, dag_id="modelguard_release", file_sha256=digest,
        action="accept_batch" if result.accepted else "quarantine_batch",
        reason=("released from quarantine after re-validation of " + source.name) if result.accepted
        else f"release refused, still failing: {result.reason}",
    )
    return {"batch_id": batch_id, "status": "accepted" if result.accepted else "quarantined", "source": str(source)}

"""The decision log, `decisions.jsonl`: one JSON line per decision the pipeline (or a person) made.

Append-only: no line is ever rewritten or removed. A decision is identified by what distinguishes two
decisions of a day (`IDENTITY`: the day, the DAG, the action, the version it concerns, batch or label
file, the kind of alert, the alias move). Recording a decision whose identity is already in the log (a rerun of the
day reaching the same conclusion) adds nothing; a different conclusion is a new line, and the latest
line about a day's file is what holds (`batch_status`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from modelguard.storage import Lake, append_line, parse_batch_id, to_jsonable

ACTIONS = (
    "accept_batch",
    "quarantine_batch",
    "drift_alert",
    "performance_alert",
    "register_challenger",
    "request_approval",
    "promote",
    "rollback",
    "no_action",
)


# What makes two log lines the same decision. `kind`: "labels" for a label file (else the batch);
# `alert`: which alert (feature_drift, output_anomaly, missing_batch, approval_rejected, ...).
# `file_sha256`: the landed file a verdict is about (a corrected file is a new decision).
# `move_id`: a promotion's or rollback's alias move (from -> to and the intent's id): a move repeated on one day
# is a new line, a rerun that completes the same intent is not.
IDENTITY = ("batch_id", "dag_id", "action", "model_version", "kind", "alert", "file_sha256", "move_id")
INGEST_DAGS = ("modelguard_ingest", "modelguard_release")
USABLE = ("accepted", "released")  # a batch that may be scored, monitored and trained on


def _identity(entry: dict) -> tuple:
    return tuple(entry.get(field) for field in IDENTITY)


def read_decisions(lake: Lake) -> list[dict]:
    path = lake.decisions_log
    if not path.exists():
        return []
    raw = path.read_bytes()
    # A line is written once its newline is: an unterminated tail is the write(2) of a writer killed inside
    # it (never acknowledged, cut off by the next append), not a line. Every complete line must parse.
    return [json.loads(line) for line in raw[: raw.rfind(b"\n") + 1].decode().splitlines() if line.strip()]


def record(
    lake: Lake,
    *,
    batch_id: str | None,
    dag_id: str,
    action: str,
    reason: str,
    model_version: str | int | None = None,
    **evidence: Any,
) -> dict:
    """Append a decision, unless the same decision (same identity) is already in the log; returns the line
    that stands for it (the earlier one when it was already there)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown decision action {action!r}; expected one of {', '.join(ACTIONS)}")
    if batch_id is not None:
        parse_batch_id(batch_id)  # a line is about a batch day (or none): never `../x`
    entry = {
        "batch_id": batch_id,
        "dag_id": dag_id,
        "action": action,
        "reason": reason,
        "model_version": None if model_version is None else str(model_version),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **to_jsonable(evidence),
    }
    with lake.locked("decisions"):
        log = read_decisions(lake)
        same = [e for e in log if _identity(e) == _identity(entry)]
        # A verdict on a day's file is a new line whenever it changes what holds now (accepted, then
        # quarantined on a rerun, then accepted again); any other decision is recorded once.
        if same and (entry["dag_id"] not in INGEST_DAGS or _latest_verdict(log, entry) is same[-1]):
            return same[-1]
        # appended, one write and an fsync: the lines already there are never rewritten (see append_line)
        append_line(lake.decisions_log, json.dumps(entry, sort_keys=True))
    return entry


def _latest_verdict(log: list[dict], entry: dict) -> dict | None:
    """The latest ingest or release line about the same day's file (batch or labels) as `entry`."""
    lines = [e for e in log if e.get("batch_id") == entry.get("batch_id") and e.get("dag_id") in INGEST_DAGS
             and (e.get("kind") == "labels") == (entry.get("kind") == "labels")]
    return lines[-1] if lines else None


def for_batch(lake: Lake, batch_id: str) -> list[dict]:
    return [e for e in read_decisions(lake) if e.get("batch_id") == batch_id]


def batch_status(lake: Lake, batch_id: str, log: list[dict] | None = None) -> str:
    """accepted | quarantined | missing | released | unknown: the one answer the policy, the page and the
    reports use. The latest ingest or release line about the day's batch file decides; without one
    (a lake written before the log had it), the files do."""
    last = _latest_verdict(read_decisions(lake) if log is None else log, {"batch_id": batch_id})
    if last is not None:
        if last.get("alert") == "missing_batch":
            return "missing"
        if last["action"] == "accept_batch":
            return "released" if last["dag_id"] == "modelguard_release" else "accepted"
        if last["action"] == "quarantine_batch":
            return "quarantined"
    if lake.validated("batches", batch_id).exists():
        return "accepted"
    if (lake.quarantine_dir(batch_id) / "reason.json").exists():
        return "quarantined"
    return "unknown"

"""The decision log, `decisions.jsonl`: one JSON line per decision the pipeline (or a person) made.

A decision is identified by (batch_id, dag_id, action, model_version): recording it again when a
day is rerun replaces the earlier line instead of adding a second one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from modelguard.storage import Lake, atomic_path, to_jsonable

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


IDENTITY = ("batch_id", "dag_id", "action", "model_version")  # what makes two log lines the same decision


def _identity(entry: dict) -> tuple:
    return tuple(entry.get(field) for field in IDENTITY)


def read_decisions(lake: Lake) -> list[dict]:
    path = lake.decisions_log
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


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
    """Append a decision (or replace the same decision from an earlier run of that day)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown decision action {action!r}; expected one of {', '.join(ACTIONS)}")
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
        kept = [e for e in read_decisions(lake) if _identity(e) != _identity(entry)]
        kept.append(entry)
        with atomic_path(lake.decisions_log) as tmp:
            tmp.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in kept))
    return entry


def for_batch(lake: Lake, batch_id: str) -> list[dict]:
    return [e for e in read_decisions(lake) if e.get("batch_id") == batch_id]

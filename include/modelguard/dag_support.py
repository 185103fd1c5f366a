"""What every DAG file shares: owners, retries, notifications, asset URIs, and how a run finds its batch_id.

Imported at DAG parse time: standard library and airflow.sdk only (the notifiers import the rest lazily).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from modelguard.notifiers import DecisionNotifier, TaskFailureNotifier

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "ml-oncall",
    # `modelguard replay` sets 0: replaying in one process, a failure should stop it at once.
    "retries": int(os.environ.get("MODELGUARD_TASK_RETRIES", "2")),
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": True,
    # Notifications (config `notifications:`; off by default): each task sends the decisions its run has
    # recorded so far, a task that fails for good also sends its failure. See modelguard.notifiers.
    "on_success_callback": DecisionNotifier(),
    "on_failure_callback": [DecisionNotifier(), TaskFailureNotifier()],
}
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# Assets: each stage announces that the day's outputs are in the lake.
INGESTED = "modelguard://lake/validated"
SCORED = "modelguard://lake/predictions"
ASSESSED = "modelguard://lake/reports/assessment"
# Emitted only when the day's assessment asks for it, so the acting DAGs run only when needed.
RETRAIN_REQUESTED = "modelguard://policy/retrain"
ROLLBACK_REQUESTED = "modelguard://policy/rollback"

BATCH_ID_PARAM_DOC = "Day to process, YYYY-MM-DD. Empty: the run's logical date or the triggering asset event's batch."


def batch_id_from(context: dict) -> str:
    """The batch this run is about: a Param, else the asset event that triggered it, else the logical date."""
    params = context.get("params") or {}
    if params.get("batch_id"):
        return str(params["batch_id"])
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in reversed(list(events)):
            extra = getattr(event, "extra", None) or {}
            if extra.get("batch_id"):
                return str(extra["batch_id"])
    logical = context.get("logical_date") or context.get("dag_run").run_after
    return logical.date().isoformat()


def announce(context: dict, uri: str, batch_id: str, **extra: Any) -> None:
    """Attach the batch_id to the asset event this task emits, so downstream runs know their day."""
    for asset, event in _outlet_items(context):
        if getattr(asset, "uri", None) == uri:
            event.extra = {"batch_id": batch_id, **extra}


def _outlet_items(context: dict):
    events = context.get("outlet_events")
    task = context.get("task")
    for asset in getattr(task, "outlets", []) or []:
        yield asset, events[asset]

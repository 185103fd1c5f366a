"""What every DAG file shares: owners, retries, notifications, asset URIs, and how a run finds its batch_id.

Imported at DAG parse time: standard library, airflow.sdk and the config model only (pydantic, yaml);
the notifiers import the rest lazily.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from modelguard.batch_days import REPLAY_DAY_ENV, day_of_interval, latest_complete_day, requested_day, scale
from modelguard.config import ScheduleConfig, load_config
from modelguard.notifiers import DecisionNotifier, TaskFailureNotifier

if TYPE_CHECKING:
    from airflow.sdk import Param


@functools.cache
def schedule_config() -> ScheduleConfig:
    """The `schedule` section of the pipeline config (read once per process, at DAG parse time)."""
    return load_config().schedule


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "ml-oncall",
    # `modelguard replay` sets 0: replaying in one process, a failure should stop it at once.
    "retries": int(os.environ.get("MODELGUARD_TASK_RETRIES", "2")),
    # Two minutes of batch time (ten seconds at least): a rehearsal's compressed days retry sooner.
    "retry_delay": dt.timedelta(seconds=max(10.0, 120 * scale(schedule_config()))),
    "retry_exponential_backoff": True,
    # Notifications (config `notifications:`; off by default): each task sends the decisions its run has
    # recorded so far, a task that fails for good also sends its failure. See modelguard.notifiers.
    "on_success_callback": DecisionNotifier(),
    "on_failure_callback": [DecisionNotifier(), TaskFailureNotifier()],
}

# Assets: each stage announces that the day's outputs are in the lake.
INGESTED = "modelguard://lake/validated"
SCORED = "modelguard://lake/predictions"
ASSESSED = "modelguard://lake/reports/assessment"
# Emitted only when the day's assessment asks for it, so the acting DAGs run only when needed.
RETRAIN_REQUESTED = "modelguard://policy/retrain"
ROLLBACK_REQUESTED = "modelguard://policy/rollback"

BATCH_ID_PARAM_DOC = ("Day to process, YYYY-MM-DD (not after today). Empty: a scheduled run takes the day its data "
                      "interval covers, an asset-triggered run every day its events carry, a manual run the latest "
                      "complete day.")


def batch_id_param(description: str = BATCH_ID_PARAM_DOC, required: bool = False) -> Param:
    """Every DAG's `batch_id` Param: a date in its JSON schema, so Airflow refuses anything else (`../x`,
    `2026-13-45`) when the run is triggered (REST 400, UI form, dag.test), before any task runs. Airflow
    checks `format: date` with jsonschema's FormatChecker; the pattern holds even for a validator without one."""
    from airflow.sdk import Param

    schema = {"type": "string" if required else ["null", "string"], "format": "date",
              "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": description}
    return Param(**schema) if required else Param(None, **schema)


def version_param(description: str) -> Param:
    """A registered model version Param: empty or a positive whole number (as a string or an integer)."""
    from airflow.sdk import Param

    return Param(None, type=["null", "string", "integer"], pattern=r"^[1-9][0-9]*$", minimum=1,
                 description=description)


def batch_timetable():
    """One run per batch day, after the day ends: its data interval is the day (in `schedule.timezone`).

    Explicit data-interval timetables: Airflow 3's `@daily` is a trigger timetable whose run at midnight
    has the day that just *began* as logical date and no real interval.
    """
    from airflow.sdk import CronDataIntervalTimetable, DeltaDataIntervalTimetable

    schedule = schedule_config()
    if schedule.rehearsal:
        return DeltaDataIntervalTimetable(schedule.rehearsal.day_length)
    return CronDataIntervalTimetable("0 0 * * *", timezone=schedule.timezone)


def start_date() -> dt.datetime:
    """Where the batch-day timetable starts (a rehearsal's own start: its intervals align to it)."""
    schedule = schedule_config()
    if schedule.rehearsal:
        return schedule.rehearsal.start
    return dt.datetime(2026, 1, 1, tzinfo=ZoneInfo(schedule.timezone))


def _run_type(context: dict) -> str:
    run = context.get("dag_run")
    kind = getattr(run, "run_type", None)
    return str(getattr(kind, "value", kind) or "")


def is_scheduled(context: dict) -> bool:
    """A run the timetable started (not manual, not a backfill): the only kind that waits for a late file."""
    return _run_type(context) == "scheduled"


def _event_batch_ids(context: dict) -> list[str]:
    days: set[str] = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            days.update(str(day) for day in extra.get("batch_ids") or [])
            if extra.get("batch_id"):
                days.add(str(extra["batch_id"]))
    return sorted(days)


def _param_day(context: dict, now: dt.datetime | None) -> str | None:
    """The `batch_id` Param, if given: a date that is not after today, else a ValueError naming the Param
    (raised by the run's first task, before anything is touched)."""
    value = (context.get("params") or {}).get("batch_id")
    if value is None or value == "":
        return None
    replayed = os.environ.get(REPLAY_DAY_ENV)
    return requested_day(value, now or dt.datetime.now(dt.UTC), schedule_config(),
                         today=dt.date.fromisoformat(replayed) if replayed and now is None else None)


def batch_id_from(context: dict, now: dt.datetime | None = None) -> str:
    """The one day a run of a time-scheduled or manual DAG is about.

    The `batch_id` Param wins (refused if it is no date, or a day after today); a scheduled or backfill
    run takes the day its data interval covers; any other run (manual without the Param) the latest
    complete day at `now`.
    """
    day = _param_day(context, now)
    if day:
        return day
    schedule = schedule_config()
    interval_start = context.get("data_interval_start")
    if _run_type(context) in ("scheduled", "backfill") and interval_start is not None:
        return day_of_interval(interval_start, schedule)
    events = _event_batch_ids(context)
    if events:
        return events[-1]
    return latest_complete_day(now or dt.datetime.now(dt.UTC), schedule)


def batch_ids_from(context: dict, now: dt.datetime | None = None) -> list[str]:
    """Every day a run is about, oldest first: the Param, else every day its triggering asset events
    carry (events coalesce when several land before the run starts), else as `batch_id_from`."""
    day = _param_day(context, now)
    if day:
        return [day]
    return _event_batch_ids(context) or [batch_id_from(context, now)]


def triggering_user(context: dict) -> str:
    """Who asked for this run, for the log: the Airflow user who triggered it (Airflow 3 keeps it on the run as
    `triggering_user_name`; `dag.test` says `dag_test`), else, when the run has none, `airflow:<run_id>`."""
    run = context["dag_run"]
    user = getattr(run, "triggering_user_name", None)
    return str(user) if user else f"airflow:{run.run_id}"


def announce(context: dict, uri: str, batch_ids: list[str], **extra: Any) -> None:
    """Attach the days to the asset event this task emits, so downstream runs know every day they cover."""
    days = sorted(set(batch_ids))
    for asset, event in _outlet_items(context):
        if getattr(asset, "uri", None) == uri:
            event.extra = {"batch_ids": days, **({"batch_id": days[-1]} if days else {}), **extra}


def _outlet_items(context: dict):
    events = context.get("outlet_events")
    task = context.get("task")
    for asset in getattr(task, "outlets", []) or []:
        yield asset, events[asset]

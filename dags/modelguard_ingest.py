"""Validate the day's batch and newly arrived labels against the reference suites; accept or quarantine."""

from __future__ import annotations

from airflow.sdk import Asset, PokeReturnValue, dag, get_current_context, task

from modelguard.batch_days import poke_seconds, wall_duration
from modelguard.dag_support import (
    DEFAULT_ARGS,
    INGESTED,
    announce,
    batch_id_from,
    batch_id_param,
    batch_timetable,
    is_scheduled,
    schedule_config,
    start_date,
)

SCHEDULE = schedule_config()


@dag(
    dag_id="modelguard_ingest",
    # One run per batch day, started when the day ends (data interval = the day, in schedule.timezone).
    schedule=batch_timetable(),
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "ingest", "data-quality"],
    params={"batch_id": batch_id_param()},
    doc_md=__doc__ + "\n\nA scheduled run waits for the day's file until `schedule.batch_deadline` after the day "
    "ends, then records `missing_batch`. A file that lands later: trigger with its `batch_id`, or backfill the "
    "range. Quarantined batches land in `quarantine/<batch_id>/` with `reason.json` and `report.html`.",
)
def modelguard_ingest():
    @task
    def choose_day() -> str:
        """The batch day this run processes (the Param, the data interval, or the latest complete day)."""
        return batch_id_from(get_current_context())

    # Reschedule mode: no worker slot is held while the file is late.
    @task.sensor(mode="reschedule", poke_interval=poke_seconds(SCHEDULE),
                 timeout=(wall_duration(SCHEDULE, SCHEDULE.batch_deadline)
                          + wall_duration(SCHEDULE, SCHEDULE.poke_interval) * 3).total_seconds() + 60)
    def wait_for_batch(batch_id: str) -> PokeReturnValue:
        """Scheduled runs wait for the file until the deadline; manual and backfill runs look once."""
        from modelguard.tasks import batch_arrival

        arrival = batch_arrival(batch_id, wait=is_scheduled(get_current_context()))
        return PokeReturnValue(is_done=not arrival["waiting"], xcom_value=arrival)

    @task
    def validate_batch(batch_id: str) -> dict:
        from modelguard.tasks import ingest_batch

        return ingest_batch(batch_id)

    # After the batch: labels of a day whose batch is accepted only now (same day, or late) are checked
    # in this run; labels whose batch is not accepted yet wait.
    @task(outlets=[Asset(INGESTED)])
    def validate_labels(batch: dict) -> dict:
        from modelguard.tasks import ingest_labels

        result = ingest_labels(batch["batch_id"])
        announce(get_current_context(), INGESTED, [batch["batch_id"]], status=batch["status"])
        return {**result, "status": batch["status"]}

    day = choose_day()
    batch = validate_batch(day)
    wait_for_batch(day) >> batch
    validate_labels(batch)


modelguard_ingest()

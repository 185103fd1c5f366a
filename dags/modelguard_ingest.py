"""Validate the day's batch and newly arrived labels against the reference suites; accept or quarantine."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task

from modelguard.dag_support import (
    BATCH_ID_PARAM_DOC,
    DEFAULT_ARGS,
    INGESTED,
    START_DATE,
    announce,
    batch_id_from,
)


@dag(
    dag_id="modelguard_ingest",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "ingest", "data-quality"],
    params={"batch_id": Param(None, type=["null", "string"], description=BATCH_ID_PARAM_DOC)},
    doc_md=__doc__ + "\n\nQuarantined batches land in `quarantine/<batch_id>/` with `reason.json` and `report.html`.",
)
def modelguard_ingest():
    @task
    def validate_labels() -> dict:
        from modelguard.tasks import ingest_labels

        return ingest_labels(batch_id_from(get_current_context()))

    @task(outlets=[Asset(INGESTED)])
    def validate_batch() -> dict:
        from modelguard.tasks import ingest_batch

        context = get_current_context()
        result = ingest_batch(batch_id_from(context))
        announce(context, INGESTED, result["batch_id"], status=result["status"])
        return result

    validate_labels() >> validate_batch()


modelguard_ingest()

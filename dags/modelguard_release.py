"""Re-validate a quarantined batch from its fixed file and, if it passes, feed it back through the cycle."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task

from modelguard.dag_support import DEFAULT_ARGS, INGESTED, announce, batch_id_from, batch_id_param, start_date


@dag(
    dag_id="modelguard_release",
    schedule=None,
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 0},
    tags=["modelguard", "ingest", "quarantine"],
    params={"batch_id": batch_id_param("The quarantined batch, YYYY-MM-DD (not after today).", required=True),
            "labels": Param(False, type="boolean", description="Release the day's quarantined label file instead.")},
    doc_md=__doc__ + "\n\nPut the fixed file at `quarantine/<batch_id>/fixed.parquet` (labels: "
    "`quarantine/labels/<batch_id>/fixed.parquet`), or replace the landing file.",
)
def modelguard_release():
    @task(outlets=[Asset(INGESTED)])
    def release_batch() -> dict:
        from modelguard.tasks import release_batch, release_labels

        context = get_current_context()
        run = release_labels if context["params"].get("labels") else release_batch
        result = run(batch_id_from(context))  # the Param, refused if it is a day after today
        announce(context, INGESTED, [result["batch_id"]], status=result["status"])
        return result

    release_batch()


modelguard_release()

"""Score the day's accepted batch with the champion, and shadow-score it with challenger and previous champion."""

from __future__ import annotations

from airflow.sdk import Asset, dag, get_current_context, task

from modelguard.dag_support import (
    DEFAULT_ARGS,
    INGESTED,
    SCORED,
    announce,
    batch_id_param,
    batch_ids_from,
    start_date,
)


@dag(
    dag_id="modelguard_score",
    schedule=[Asset(INGESTED)],
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "score", "shadow"],
    params={"batch_id": batch_id_param()},
    doc_md=__doc__ + "\n\nA run triggered by several ingest events (coalesced) scores every day they carry.",
)
def modelguard_score():
    @task(outlets=[Asset(SCORED)])
    def score_batches() -> dict:
        from modelguard.tasks import score_batches as run

        context = get_current_context()
        result = run(batch_ids_from(context))
        announce(context, SCORED, result["batch_ids"], statuses=result["statuses"])
        return result

    score_batches()


modelguard_score()

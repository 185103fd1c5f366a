"""Score the day's accepted batch with the champion, and shadow-score it with challenger and previous champion."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task

from modelguard.dag_support import (
    BATCH_ID_PARAM_DOC,
    DEFAULT_ARGS,
    INGESTED,
    SCORED,
    START_DATE,
    announce,
    batch_id_from,
)


@dag(
    dag_id="modelguard_score",
    schedule=[Asset(INGESTED)],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "score", "shadow"],
    params={"batch_id": Param(None, type=["null", "string"], description=BATCH_ID_PARAM_DOC)},
    doc_md=__doc__,
)
def modelguard_score():
    @task(outlets=[Asset(SCORED)])
    def score_batch() -> dict:
        from modelguard.tasks import score_batch as run

        context = get_current_context()
        result = run(batch_id_from(context))
        announce(context, SCORED, result["batch_id"], status=result["status"])
        return result

    score_batch()


modelguard_score()

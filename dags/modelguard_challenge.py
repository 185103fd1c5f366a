"""Train a challenger on the rolling window when the policy asks, register it and compare it with the champion."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task

from modelguard.dag_support import (
    DEFAULT_ARGS,
    RETRAIN_REQUESTED,
    batch_id_param,
    batch_ids_from,
    start_date,
)


@dag(
    dag_id="modelguard_challenge",
    schedule=[Asset(RETRAIN_REQUESTED)],
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "challenger", "retrain"],
    params={
        "batch_id": batch_id_param(),
        "trigger": Param(None, type=["null", "string"],
                         description="Force a challenger now (e.g. 'manual'); empty: only if the assessment asks."),
    },
    doc_md=__doc__ + "\n\nA winning challenger gets tag `approval=pending`: approve it in the MLflow UI.",
)
def modelguard_challenge():
    @task
    def train_and_compare() -> list[dict]:
        from modelguard.tasks import challenge_days

        context = get_current_context()
        # Without a manual trigger, each day's assessment says why (and whether) to retrain.
        return challenge_days(batch_ids_from(context), trigger=context["params"].get("trigger"))

    train_and_compare()


modelguard_challenge()

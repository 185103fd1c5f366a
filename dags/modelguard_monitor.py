"""Measure drift and realized performance of the day, and let the policy decide what it calls for."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from modelguard.dag_support import (
    ASSESSED,
    BATCH_ID_PARAM_DOC,
    DEFAULT_ARGS,
    RETRAIN_REQUESTED,
    ROLLBACK_REQUESTED,
    SCORED,
    START_DATE,
    announce,
    batch_id_from,
)


@dag(
    dag_id="modelguard_monitor",
    schedule=[Asset(SCORED)],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "monitor", "drift"],
    params={"batch_id": Param(None, type=["null", "string"], description=BATCH_ID_PARAM_DOC)},
    doc_md=__doc__ + "\n\nReports: `reports/<batch_id>/drift.html` (Evidently) and `assessment.json`.",
)
def modelguard_monitor():
    @task
    def drift_report() -> dict:
        from modelguard.tasks import drift_report as run

        return run(batch_id_from(get_current_context()))

    @task
    def measure_performance() -> dict:
        from modelguard.tasks import measure_performance as run

        return run(batch_id_from(get_current_context()))

    @task(outlets=[Asset(ASSESSED)])
    def assess() -> dict:
        from modelguard.tasks import assess as run

        context = get_current_context()
        result = run(batch_id_from(context))
        announce(context, ASSESSED, result["batch_id"], retrain=result["retrain"], rollback=result["rollback"])
        return result

    @task(outlets=[Asset(RETRAIN_REQUESTED)])
    def request_retrain(assessment: dict) -> str:
        """Emits the retrain asset (starting modelguard_challenge) only if the policy asks for it."""
        if not assessment["retrain"]:
            raise AirflowSkipException("policy: no retraining today")
        announce(get_current_context(), RETRAIN_REQUESTED, assessment["batch_id"], trigger=assessment["retrain"])
        return assessment["retrain"]

    @task(outlets=[Asset(ROLLBACK_REQUESTED)])
    def request_rollback(assessment: dict) -> bool:
        """Emits the rollback asset (starting modelguard_rollback) only if the guardrail failed."""
        if not assessment["rollback"]:
            raise AirflowSkipException("policy: the champion holds up")
        announce(get_current_context(), ROLLBACK_REQUESTED, assessment["batch_id"])
        return True

    assessment = assess()
    [drift_report(), measure_performance()] >> assessment
    request_retrain(assessment)
    request_rollback(assessment)


modelguard_monitor()

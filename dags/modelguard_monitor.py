"""Measure drift and realized performance of the day, and let the policy decide what it calls for."""

from __future__ import annotations

from airflow.sdk import Asset, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from modelguard.dag_support import (
    ASSESSED,
    DEFAULT_ARGS,
    RETRAIN_REQUESTED,
    ROLLBACK_REQUESTED,
    SCORED,
    announce,
    batch_id_param,
    batch_ids_from,
    start_date,
)


@dag(
    dag_id="modelguard_monitor",
    schedule=[Asset(SCORED)],
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "monitor", "drift"],
    params={"batch_id": batch_id_param()},
    doc_md=__doc__ + "\n\nReports: `reports/<batch_id>/drift.html` (Evidently) and `assessment.json`. "
    "A run triggered by several scoring events assesses every day they carry, oldest first.",
)
def modelguard_monitor():
    @task
    def choose_days() -> list[str]:
        """The days this run covers (every day of the triggering events, or the Param)."""
        return batch_ids_from(get_current_context())

    @task
    def drift_report(days: list[str]) -> list[dict]:
        from modelguard.tasks import drift_reports

        return drift_reports(days)

    @task
    def measure_performance(days: list[str]) -> list[dict]:
        from modelguard.tasks import measure_performances

        return measure_performances(days)

    @task(outlets=[Asset(ASSESSED)])
    def assess(days: list[str]) -> dict:
        from modelguard.tasks import assess_days

        result = assess_days(days)
        announce(get_current_context(), ASSESSED, result["batch_ids"], retrain=result["retrain"],
                 rollback=result["rollback"])
        return result

    @task(outlets=[Asset(RETRAIN_REQUESTED)])
    def request_retrain(assessment: dict) -> dict:
        """Emits the retrain asset (starting modelguard_challenge) only if the policy asks for it."""
        if not assessment["retrain"]:
            raise AirflowSkipException("policy: no retraining")
        announce(get_current_context(), RETRAIN_REQUESTED, list(assessment["retrain"]), trigger=assessment["retrain"])
        return assessment["retrain"]

    @task(outlets=[Asset(ROLLBACK_REQUESTED)])
    def request_rollback(assessment: dict) -> list[str]:
        """Emits the rollback asset (starting modelguard_rollback) only if the guardrail failed."""
        if not assessment["rollback"]:
            raise AirflowSkipException("policy: the champion holds up")
        announce(get_current_context(), ROLLBACK_REQUESTED, assessment["rollback"])
        return assessment["rollback"]

    days = choose_days()
    assessment = assess(days)
    [drift_report(days), measure_performance(days)] >> assessment
    request_retrain(assessment)
    request_rollback(assessment)


modelguard_monitor()

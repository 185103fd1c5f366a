"""Roll the champion back to the previous champion when a promotion proves worse, or to a chosen version."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task

from modelguard.dag_support import (
    BATCH_ID_PARAM_DOC,
    DEFAULT_ARGS,
    ROLLBACK_REQUESTED,
    START_DATE,
    batch_id_from,
)


@dag(
    dag_id="modelguard_rollback",
    schedule=[Asset(ROLLBACK_REQUESTED)],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "rollback", "registry"],
    params={
        "batch_id": Param(None, type=["null", "string"], description=BATCH_ID_PARAM_DOC),
        "version": Param(None, type=["null", "string", "integer"],
                         description="Version to restore now. Empty: roll back only if today's guardrail failed."),
    },
    doc_md=__doc__,
)
def modelguard_rollback():
    @task
    def apply_rollback() -> dict:
        from modelguard.tasks import rollback

        context = get_current_context()
        version = context["params"].get("version")
        by = f"airflow:{context['dag_run'].run_id}" if version else "modelguard guardrail"
        return rollback(batch_id_from(context), version=str(version) if version else None, by=by)

    apply_rollback()


modelguard_rollback()

"""Roll the champion back to the previous champion when a promotion proves worse, or to a chosen version."""

from __future__ import annotations

from airflow.sdk import Asset, dag, get_current_context, task

from modelguard.dag_support import (
    DEFAULT_ARGS,
    ROLLBACK_REQUESTED,
    batch_id_param,
    batch_ids_from,
    start_date,
    triggering_user,
    version_param,
)
from modelguard.pools import REGISTRY_POOL


@dag(
    dag_id="modelguard_rollback",
    schedule=[Asset(ROLLBACK_REQUESTED)],
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "rollback", "registry"],
    params={
        "batch_id": batch_id_param(),
        "version": version_param("Version to restore now. Empty: roll back only if the day's guardrail failed."),
    },
    doc_md=__doc__,
)
def modelguard_rollback():
    @task(pool=REGISTRY_POOL)
    def apply_rollback() -> list[dict]:
        from modelguard.tasks import rollback_days

        context = get_current_context()
        version = context["params"].get("version")
        by = triggering_user(context) if version else "modelguard guardrail"
        return rollback_days(batch_ids_from(context), version=str(version) if version else None, by=by)

    apply_rollback()


modelguard_rollback()

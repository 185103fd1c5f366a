"""Promote an approved challenger (approval tag set in the MLflow UI) or, by hand, a chosen version."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task

from modelguard.dag_support import ASSESSED, BATCH_ID_PARAM_DOC, DEFAULT_ARGS, START_DATE, batch_id_from


@dag(
    dag_id="modelguard_promote",
    schedule=[Asset(ASSESSED)],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "promote", "registry"],
    params={
        "batch_id": Param(None, type=["null", "string"], description=BATCH_ID_PARAM_DOC),
        "version": Param(None, type=["null", "string", "integer"],
                         description="Version to promote now. Empty: apply approvals made in the registry."),
        "force": Param(False, type="boolean", description="Promote even if the version lost its comparison."),
    },
    doc_md=__doc__ + "\n\nGates: the version exists, loads, and passed its comparison unless forced.",
)
def modelguard_promote():
    @task
    def apply_promotion() -> dict:
        from modelguard.tasks import promote

        context = get_current_context()
        params = context["params"]
        version = params.get("version")
        by = f"airflow:{context['dag_run'].run_id}" if version else "modelguard"
        return promote(batch_id_from(context), version=str(version) if version else None,
                       force=bool(params.get("force")), by=by)

    apply_promotion()


modelguard_promote()

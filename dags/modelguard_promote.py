"""Promote an approved challenger (approval tag set in the MLflow UI) or, by hand, a chosen version."""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher, Param, dag, get_current_context, task

from modelguard.approval_watch import APPROVALS_ASSET, RegistryApprovalTrigger
from modelguard.dag_support import (
    ASSESSED,
    DEFAULT_ARGS,
    batch_id_param,
    batch_ids_from,
    schedule_config,
    start_date,
    triggering_user,
    version_param,
)
from modelguard.pools import REGISTRY_POOL

# The triggerer polls the registry: an approval (or rejection, or a hand-moved alias) made in the MLflow
# UI starts this DAG within `schedule.approval_poll`, not at the next day's assessment.
REGISTRY_REQUESTS = Asset(APPROVALS_ASSET, watchers=[AssetWatcher(
    name="modelguard_registry_approvals",
    trigger=RegistryApprovalTrigger(poll_seconds=schedule_config().approval_poll.total_seconds()))])


@dag(
    dag_id="modelguard_promote",
    schedule=(Asset(ASSESSED) | REGISTRY_REQUESTS),
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["modelguard", "promote", "registry"],
    params={
        "batch_id": batch_id_param(),
        "version": version_param("Version to promote now. Empty: apply approvals made in the registry."),
        "force": Param(False, type="boolean", description="Promote even if the version lost its comparison."),
    },
    doc_md=__doc__ + "\n\nGates: the version exists, loads, and passed its comparison unless forced. "
    "`approval=rejected` on a requested version is logged (`no_action`) and never promoted.",
)
def modelguard_promote():
    @task(pool=REGISTRY_POOL)
    def apply_promotion() -> list[dict]:
        from modelguard.tasks import promote_days

        context = get_current_context()
        params = context["params"]
        version, force = params.get("version"), bool(params.get("force"))
        # a hand-picked or forced promotion names the Airflow user who asked for it
        by = triggering_user(context) if version or force else "modelguard"
        return promote_days(batch_ids_from(context), version=str(version) if version else None,
                            force=force, by=by)

    apply_promotion()


modelguard_promote()

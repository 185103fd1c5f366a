"""The Airflow pools the DAGs use. Light: DAG files import the names at parse time; `ensure_pools` runs
from `modelguard airflow-setup` (and replay), since the scheduler never runs a task whose pool is missing."""

from __future__ import annotations

# Promote and rollback run in this one-slot pool. What serialises alias writes is `alias_lock` (every writer:
# challenge, replay and the CLI too); the pool only makes a second move wait in Airflow's queue, not in a worker.
REGISTRY_POOL = "modelguard_registry"


def ensure_pools() -> None:
    """Create or update the pools in Airflow's metadata DB (idempotent)."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(name=REGISTRY_POOL, slots=1, include_deferred=False,
                               description="modelguard: alias moves (promote, rollback), one at a time")

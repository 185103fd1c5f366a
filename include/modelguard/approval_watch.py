"""Approvals act in minutes: a triggerer-side watcher that polls the registry for a person's decision.

`RegistryApprovalTrigger` runs in Airflow's triggerer (an `AssetWatcher` on the approvals asset, see
`dags/modelguard_promote.py`). Every `poll_seconds` it asks the registry, off the event loop, what a
person did that the promote DAG has not acted on yet (`promote.registry_requests`): approved a version,
rejected a requested one, or moved the `champion` alias by hand. When that set changes it fires, the
asset event starts `modelguard_promote`, and that run promotes, refuses or logs the rejection, which
takes the request off the set. A watcher that restarts may fire once more for the same request; the
promote run is idempotent.

Why a poller and not an MLflow registry webhook: webhooks need a SQL store, an HTTP receiver reachable
from the MLflow server (private addresses refused unless the server allows them) and a shared secret,
and a missed delivery is lost. The poller needs only the registry access the tasks already have, works
on every tracking store, and catches up after any outage.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

APPROVALS_ASSET = "modelguard://registry/approvals"
log = logging.getLogger(__name__)


def pending_requests() -> list[dict]:
    """The registry requests not acted on yet, for the pipeline config of this process."""
    from modelguard.config import load_config
    from modelguard.promote import registry_requests
    from modelguard.runtime import quiet_libraries

    quiet_libraries()
    return registry_requests(load_config())


class RegistryApprovalTrigger(BaseEventTrigger):
    """Fires when a person's approval, rejection or alias move in the registry awaits the promote DAG."""

    def __init__(self, poll_seconds: float = 30.0) -> None:
        super().__init__()
        self.poll_seconds = float(poll_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{__name__}.{type(self).__name__}", {"poll_seconds": self.poll_seconds}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        fired = None
        while True:
            try:
                requests = await asyncio.to_thread(pending_requests)
            except Exception as error:  # noqa: BLE001 - a registry outage must not kill the watcher
                self.log.warning("registry not reachable, retrying in %.0f s: %s", self.poll_seconds, error)
                requests = None
            if requests is not None:
                key = json.dumps(requests, sort_keys=True)
                if requests and key != fired:
                    self.log.info("registry requests for modelguard_promote: %s", key)
                    yield TriggerEvent({"requests": requests})
                fired = key if requests else None
            await asyncio.sleep(self.poll_seconds)

"""Airflow notifiers for modelguard's notifications (messages, channels and outbox: `modelguard.notify`).

`dag_support.DEFAULT_ARGS` attaches them to every task of every DAG:
- `DecisionNotifier` (on success and on failure): sends the decisions this DAG run recorded for its
  batch that `notifications.events` lists, and any earlier message still pending;
- `TaskFailureNotifier` (on failure, i.e. retries exhausted): DAG, task, batch, exception, log URL.

Task callbacks rather than DAG callbacks: they run on the worker, right after the deciding task, where the
lake, the config and the secrets are; and under `dag.test()` (the replay and the tests) Airflow 3.3.2 hands
a DAG-level BaseNotifier a SerializedDAG, which fails before `notify()` is reached (apache/airflow#64649).

A notification that cannot be sent raises here: Airflow logs it as a failed callback ("Failed to run task
callback", with the channel and the messages) and the task keeps its state. The decision is already in
`decisions.jsonl`, and the message stays pending in the outbox for the next notification or a rerun.

Imported at DAG parse time: airflow.sdk only; the config and the lake are imported when a callback runs.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseNotifier


def _run_url(context: Any) -> str | None:
    """The Airflow UI page of this DAG run (the task log URL without its task part)."""
    log_url = getattr(context.get("ti"), "log_url", None)
    return log_url.split("/tasks/", 1)[0] if log_url else None


class DecisionNotifier(BaseNotifier):
    """Send the decisions of this run's batch (and pending ones) to the configured channels."""

    def notify(self, context: Any) -> None:
        from modelguard.config import load_config
        from modelguard.dag_support import batch_ids_from
        from modelguard.notify import notify_run

        config = load_config()
        if not config.notifications.enabled:
            return
        for batch_id in batch_ids_from(context):
            delivery = notify_run(config, context["ti"].dag_id, batch_id, environ=os.environ,
                                  run_url=_run_url(context))
            for subject, channel in delivery.sent:
                self.log.info("notified %s: %s", channel, subject)
            delivery.raise_for_failures()


class TaskFailureNotifier(BaseNotifier):
    """Tell the on-call that a task failed for good: where, which batch, the exception and the log."""

    def notify(self, context: Any) -> None:
        from modelguard.config import load_config
        from modelguard.dag_support import batch_id_from
        from modelguard.notify import notify_failure

        config = load_config()
        if not config.notifications.enabled:
            return
        ti = context["ti"]
        try:
            batch_id = batch_id_from(context)
        except Exception:  # the message must go out even if the run's day cannot be told
            batch_id = None
        delivery = notify_failure(config, environ=os.environ, dag_id=ti.dag_id, task_id=ti.task_id,
                                  run_id=ti.run_id, try_number=ti.try_number, batch_id=batch_id,
                                  exception=context.get("exception"), log_url=getattr(ti, "log_url", None))
        for subject, channel in delivery.sent:
            self.log.info("notified %s: %s", channel, subject)
        delivery.raise_for_failures()

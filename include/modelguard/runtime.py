"""Process-wide quiet settings for the heavy libraries (telemetry off, no progress bars, few logs)."""

from __future__ import annotations

import logging
import os

_QUIET_ENV = {
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "TQDM_DISABLE": "1",
    # A dead tracking server should fail a task in seconds, not after minutes of client retries:
    # Airflow retries the task, and every task is idempotent.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def quiet_libraries() -> None:
    """Call before importing GX, MLflow or Evidently: they log and phone home by default."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("great_expectations", "mlflow", "alembic", "evidently", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)

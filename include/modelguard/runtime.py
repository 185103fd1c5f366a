"""Process-wide settings for the heavy libraries: quiet (telemetry off, no progress bars, few logs), and a
garbage collector sized for them."""

from __future__ import annotations

import gc
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


# Python's cyclic collector runs a pass every 700 new container objects by default, and a full pass whenever the
# long-lived heap has grown by a quarter. A day's process holds over half a million long-lived objects of its
# libraries (Airflow, MLflow, Evidently, SQLAlchemy, pydantic), which every full pass walks again: in a 1M-row
# day's `modelguard replay`, 5.8 s of 22 s were the collector, 3 s of it the final pass at interpreter exit
# (benchmarks/day_bench.py). Passes 70x rarer keep cycles collected, at a cost nobody sees.
COLLECTOR_THRESHOLDS = (50_000, 20, 10)


def lean_collector() -> None:
    """Size the cyclic garbage collector for a process holding the heavy libraries (see COLLECTOR_THRESHOLDS)."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def freeze_heap() -> None:
    """Exempt every object alive now from later collector passes: the libraries a pre-forking worker imported
    (their pages then stay shared with the forked task processes), or the whole heap of a command that is about
    to exit (the interpreter's final pass would walk it for nothing). Objects outside reference cycles are
    still freed by reference counting; every write of the lake is complete (renamed into place) before then."""
    gc.freeze()

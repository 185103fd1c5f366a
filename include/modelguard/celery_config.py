"""Celery settings for Airflow's Celery workers (`AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS`, set in
docker/airflow.env): Airflow's defaults, plus the libraries the tasks use, imported once per worker.

A worker imports its `imports` before it forks its pool, and Airflow's supervisor forks every task process
from a pool process: a task then starts with pandas, scikit-learn, MLflow and Evidently already
loaded instead of importing them again (seconds per task; benchmarks/day_bench.py prints the per-task
times under the scheduler). Only the workers import them: the scheduler reads this dict, not the modules.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()),
                                                      "modelguard.worker_preload")}

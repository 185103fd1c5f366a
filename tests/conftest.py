"""Shared fixtures: small configs and lakes in temp folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Two test workers share two cores: one OpenMP thread each (model fits), inherited by the CLI subprocesses.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Airflow reads these at import: a throwaway home, our DAGs, no examples. Set before anything imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="modelguard-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

FRAUD_MODEL = {
    "name": "fraud_detector",
    "target": "is_fraud",
    "id_column": "transaction_id",
    "timestamp_column": "event_time",
    "features": {
        "numeric": ["amount", "hour", "customer_age", "account_age_days", "tx_count_24h", "distance_from_home_km",
                    "merchant_risk_score", "avg_amount_30d"],
        "categorical": ["merchant_category", "channel", "country", "device_type", "card_type"],
    },
    "segments": ["channel"],
    "decision_threshold": 0.1,
}


def write_config(folder: Path, **sections) -> Path:
    """A pipeline YAML in `folder` with its lake and MLflow store inside `folder`."""
    data = {"model": FRAUD_MODEL, "storage": {"root": "lake"}, "mlflow": {"tracking_uri": "sqlite:///mlflow.db"}}
    data.update(sections)
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def cli_env(config_file: Path, airflow_home: Path, **extra: str) -> dict[str, str]:
    """The environment a `modelguard` CLI subprocess gets in tests: this config, its own Airflow home, our DAGs."""
    return {**os.environ, "MODELGUARD_CONFIG": str(config_file), "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"), **extra}


def simulated_lake(folder: Path, days: int, incidents: list[str], rows: int = 2000, **sections):
    """A config in `folder`, its lake with `days` simulated days (`kind@day` incidents) and the first champion
    registered, and the environment for CLI subprocesses. Simulating and the first champion need no Airflow."""
    from modelguard.bootstrap import initialise
    from modelguard.config import load_config
    from modelguard.simulate import parse_incident, simulate

    config_file = write_config(folder, **sections)
    config = load_config(config_file)
    simulate(config.storage_root, days=days, rows=rows, reference_rows=6000,
             incidents=[parse_incident(spec) for spec in incidents])
    initialise(config)
    return config, cli_env(config_file, folder / "airflow")


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path)


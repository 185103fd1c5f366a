"""The docker-compose stack cannot run here (no Docker engine): check its shape instead."""

from __future__ import annotations

import re

import yaml

from tests.conftest import PROJECT


def _compose() -> dict:
    return yaml.safe_load((PROJECT / "docker-compose.yaml").read_text())


def test_services_and_healthchecks() -> None:
    services = _compose()["services"]
    expected = {"postgres", "redis", "mlflow", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                "airflow-worker", "airflow-triggerer", "airflow-init"}
    assert expected <= set(services)
    for name in expected - {"airflow-init"}:
        assert "healthcheck" in services[name], name


def test_ports_bind_to_loopback_and_auth_is_on() -> None:
    services = _compose()["services"]
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
    assert "basic-auth" in services["mlflow"]["command"]
    assert "FabAuthManager" in services["airflow-scheduler"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]


def test_every_variable_is_documented_in_env_example() -> None:
    text = (PROJECT / "docker-compose.yaml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))  # $${X} is expanded in the container
    documented = {line.split("=")[0] for line in (PROJECT / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#")}
    assert used <= documented, used - documented
    assert not (PROJECT / ".env").exists() or ".env" in (PROJECT / ".gitignore").read_text()


AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init")


def test_start_order_waits_for_health_not_just_for_start() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, (name, dependency)
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), (name, dependency)
    for name in AIRFLOW_SERVICES[:-1]:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_airflow_services_share_one_image_secrets_and_the_project() -> None:
    services = _compose()["services"]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        env = service["environment"]
        # one JWT secret everywhere, else workers fail "Signature verification failed"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "${AIRFLOW_JWT_SECRET:?set AIRFLOW_JWT_SECRET in .env}"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["MODELGUARD_CONFIG"].endswith("pipeline.compose.yaml")
        mounts = {volume.split(":")[1] for volume in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include", "/opt/airflow/data"} <= mounts
        assert service["build"]["dockerfile"] == "docker/airflow.Dockerfile"
    dockerfile = (PROJECT / "docker" / "airflow.Dockerfile").read_text()
    assert "requirements.txt" in dockerfile and "pip install --no-cache-dir --no-deps -e /opt/modelguard" in dockerfile
    assert "FROM apache/airflow:3.3.2-python3.11" in dockerfile


def test_workers_scale_out_and_state_lives_on_named_volumes() -> None:
    compose = _compose()
    services = compose["services"]
    worker = services["airflow-worker"]
    # `docker compose up --scale airflow-worker=3` needs no fixed name and no host port
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"] == "celery worker"
    declared = set(compose["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in declared, source
    assert "postgresql://mlflow:" in services["mlflow"]["command"]  # MLflow's backend store is Postgres
    assert "--artifacts-destination /mlartifacts" in services["mlflow"]["command"]
    assert "mlflow-artifacts:/mlartifacts" in services["mlflow"]["volumes"]


def test_env_example_holds_placeholders_only() -> None:
    for line in (PROJECT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert "change-me" in value or name in ("AIRFLOW_UID", "AIRFLOW_IMAGE_NAME", "AIRFLOW_ADMIN_USER", "MODELGUARD_MLFLOW_UI",
                                                    "AIRFLOW_WORKER_CONCURRENCY",
                                                    "MLFLOW_ADMIN_USER"), line

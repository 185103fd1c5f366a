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

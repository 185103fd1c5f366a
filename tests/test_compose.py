"""The docker-compose stack cannot run here (no Docker engine): check its shape instead."""

from __future__ import annotations

import re

import yaml

from tests.conftest import PROJECT
from tests.live_stack import (
    FAB_AUTH_MANAGER,
    MLFLOW_AUTH_FILE,
    SETTINGS_FILE,
    LiveStack,
    read_env_file,
    read_mlflow_auth_file,
)


def _compose() -> dict:
    return yaml.safe_load((PROJECT / "docker-compose.yaml").read_text())


def _env_files(service: dict) -> list[str]:
    files = service.get("env_file") or []
    return [files] if isinstance(files, str) else [f if isinstance(f, str) else f["path"] for f in files]


def _effective_env(service: dict) -> dict[str, str]:
    """What a container gets: its env_file(s), then `environment:` on top (as docker compose merges them)."""
    env: dict[str, str] = {}
    for path in _env_files(service):
        env.update(read_env_file(PROJECT / path))
    env.update({key: str(value) for key, value in (service.get("environment") or {}).items()})
    return env


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
    assert "--app-name modelguard" in services["mlflow"]["command"]
    assert "FabAuthManager" in _effective_env(services["airflow-scheduler"])["AIRFLOW__CORE__AUTH_MANAGER"]


def test_mlflow_auth_settings_are_mounted_checked_per_request_and_hold_no_secret() -> None:
    """The MLflow server reads docker/mlflow_auth.ini: basic auth on every request, read-only by default, a
    successful password check cached a minute (the hash cost 250 ms of CPU per request), no password in it."""
    mlflow = _compose()["services"]["mlflow"]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in mlflow["volumes"]}
    path = mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"]
    assert PROJECT / mounted[path] == MLFLOW_AUTH_FILE
    settings = read_mlflow_auth_file()
    assert settings["authorization_function"] == "mlflow.server.auth:authenticate_request_basic_auth"
    assert settings["default_permission"] == "READ"
    assert 0 < int(settings["auth_cache_ttl_seconds"]) <= 300
    assert "admin_password" not in settings


def test_mlflow_is_built_with_the_registry_server_app_and_installs_nothing_at_start() -> None:
    """The mlflow service runs modelguard's registry server app (approval rules, stamps) from an image built once:
    MLflow's, basic-auth, the Postgres driver and this project with its `mlflow.app` entry point."""
    import tomllib

    mlflow = _compose()["services"]["mlflow"]
    assert mlflow["build"] == {"context": ".", "dockerfile": "docker/mlflow.Dockerfile"}
    command = mlflow["command"]
    assert "--app-name modelguard" in command and "basic-auth" not in command
    assert "pip install" not in command
    # the users DB and accounts are made in one process before the server's workers start
    assert command.index("/opt/modelguard/registry_bootstrap.py") < command.index("mlflow server")
    dockerfile = (PROJECT / "docker" / "mlflow.Dockerfile").read_text()
    assert re.findall(r"^FROM .*$", dockerfile, re.MULTILINE) == ["FROM ghcr.io/mlflow/mlflow:v3.17.2"]
    assert '"mlflow[auth]==3.17.2"' in dockerfile and "psycopg2-binary==" in dockerfile
    for copied in ("pyproject.toml", "include", "scripts/registry_bootstrap.py"):
        assert f"COPY {copied} /opt/modelguard/" in dockerfile, copied
    assert "pip install --no-cache-dir --no-deps /opt/modelguard" in dockerfile
    assert (PROJECT / "scripts" / "registry_bootstrap.py").exists()
    entry_points = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert entry_points["mlflow.app"]["modelguard"] == "modelguard.registry_server:create_app"
    # pins as requirements.txt's, where it has them
    pins = dict(line.split("==") for line in (PROJECT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith(("#", " ")))
    for package in ("psycopg2-binary", "tzdata", "mlflow"):
        assert f"{package}=={pins[package]}" in dockerfile or f"{package}[auth]=={pins[package]}" in dockerfile

    # its approval rules come from the pipeline's own config, mounted read-only
    env = mlflow["environment"]
    mounts = {volume.split(":")[1]: volume for volume in mlflow["volumes"]}
    folder, _, name = env["MODELGUARD_CONFIG"].rpartition("/")
    assert name == "pipeline.compose.yaml" and mounts[folder].endswith(":ro")
    assert PROJECT / mounts[folder].split(":")[0] / name == PROJECT / "include" / "config" / name
    assert env["MODELGUARD_MLFLOW_PIPELINE_PASSWORD"] == \
        "${MLFLOW_PIPELINE_PASSWORD:?set MLFLOW_PIPELINE_PASSWORD in .env}"
    # the users DB (accounts, permissions) is on a named volume: a rebuilt image's new container keeps them
    database = read_mlflow_auth_file()["database_uri"]
    assert database.startswith("sqlite:////")
    folder = database.removeprefix("sqlite:///").rpartition("/")[0]
    assert mounts[folder] == f"mlflow-auth:{folder}" and "mlflow-auth" in _compose()["volumes"]


def test_no_airflow_service_logs_in_to_mlflow_as_the_admin() -> None:
    """The tasks log in as the pipeline's own account (approval.pipeline_user), which the server never lets
    approve; the admin's password is the mlflow service's alone."""
    from modelguard.config import load_config

    services = _compose()["services"]
    pipeline_user = load_config(PROJECT / "include" / "config" / "pipeline.compose.yaml").approval.pipeline_user
    for name in AIRFLOW_SERVICES:
        env = _effective_env(services[name])
        assert env["MLFLOW_TRACKING_USERNAME"] == pipeline_user, name
        assert env["MLFLOW_TRACKING_PASSWORD"] == "${MLFLOW_PIPELINE_PASSWORD:?set MLFLOW_PIPELINE_PASSWORD in .env}"
        for key, value in env.items():
            assert "MLFLOW_ADMIN" not in value and "MLFLOW_AUTH_ADMIN" not in key, (name, key)
    mlflow = services["mlflow"]["environment"]
    assert mlflow["MLFLOW_AUTH_ADMIN_USERNAME"] != pipeline_user
    assert "MLFLOW_ADMIN_PASSWORD" in mlflow["MLFLOW_AUTH_ADMIN_PASSWORD"]


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
        env = _effective_env(service)
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
    assert "postgresql+psycopg2://mlflow:" in services["mlflow"]["command"]  # MLflow's backend store is Postgres
    assert "--artifacts-destination /mlartifacts" in services["mlflow"]["command"]
    assert "mlflow-artifacts:/mlartifacts" in services["mlflow"]["volumes"]


def test_env_example_holds_placeholders_only() -> None:
    for line in (PROJECT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert "change-me" in value or name in ("AIRFLOW_UID", "AIRFLOW_IMAGE_NAME", "AIRFLOW_ADMIN_USER", "MODELGUARD_MLFLOW_UI",
                                                    "AIRFLOW_WORKER_CONCURRENCY",
                                                    "MLFLOW_ADMIN_USER"), line


def test_compose_and_the_live_stack_read_one_settings_file(tmp_path) -> None:
    """docker/airflow.env is the single source of Airflow's settings: every Airflow service of the compose
    file loads it, and tests/live_stack.py starts its processes from the same file."""
    services = _compose()["services"]
    settings = read_env_file(SETTINGS_FILE)
    for name in AIRFLOW_SERVICES:
        assert [PROJECT / path for path in _env_files(services[name])] == [SETTINGS_FILE], name
        environment = services[name]["environment"]
        # compose's own `environment:` holds host addresses and secrets, and the one .env knob; no copies
        assert set(environment) & set(settings) <= {"AIRFLOW__CELERY__WORKER_CONCURRENCY"}, name
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert settings["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    assert settings["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "true"
    assert settings["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert services["airflow-worker"]["environment"]["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == (
        "${AIRFLOW_WORKER_CONCURRENCY:-" + settings["AIRFLOW__CELERY__WORKER_CONCURRENCY"] + "}")
    for key, value in settings.items():  # no host address, no secret
        assert "://" not in value and "@" not in value, key
        assert not any(word in key for word in ("PASSWORD", "SECRET", "FERNET", "CONN", "BROKER", "URL")), key

    stack = LiveStack(tmp_path, fast=False)  # builds the environment only; starts nothing
    env = stack.airflow_env()
    own = {"AIRFLOW__CELERY__WORKER_CONCURRENCY"}  # the harness runs smaller workers (2 x 2 slots)
    assert {key: env[key] for key in settings if key not in own} == {k: v for k, v in settings.items() if k not in own}
    fast = LiveStack(tmp_path / "fast", env={"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false"}).airflow_env()
    assert fast["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor" and fast["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    assert fast["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"  # a test may override a setting
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        assert "postgresql+psycopg2://airflow:" in env[key] and "@127.0.0.1:" in env[key]
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://127.0.0.1:")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"{stack.api_url}/execution/"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1" and stack.mlflow_uri.startswith("http://127.0.0.1:")
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] != fast["AIRFLOW__API_AUTH__JWT_SECRET"]  # random per run


def test_celery_workers_load_the_task_libraries_once() -> None:
    """Airflow's Celery defaults are kept; the workers import what tasks use before forking, and that import
    starts no thread (a fork copies only the forking thread). The imported objects are frozen out of the
    collector's passes and its thresholds are the project's, both inherited by the forked task processes."""
    import subprocess
    import sys

    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    module, _, name = read_env_file(SETTINGS_FILE)["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    config = getattr(__import__(module, fromlist=[name]), name)
    assert {k: v for k, v in config.items() if k != "imports"} == \
        {k: v for k, v in DEFAULT_CELERY_CONFIG.items() if k != "imports"}
    assert "modelguard.worker_preload" in config["imports"]
    probe = ("import gc, threading, modelguard.worker_preload, sys; "
             "from modelguard.runtime import COLLECTOR_THRESHOLDS; "
             "sys.exit(len(threading.enumerate()) != 1 or 'evidently' not in sys.modules "
             "or gc.get_threshold() != COLLECTOR_THRESHOLDS or gc.get_freeze_count() < 100_000)")
    assert subprocess.run([sys.executable, "-c", probe], timeout=120).returncode == 0


def test_the_command_line_sizes_the_collector_and_freezes_the_heap_at_exit() -> None:
    """`modelguard` runs with the project's collector thresholds, and exits without a full collector pass over the
    libraries' objects (which took 3 s of a 1M-row day's replay)."""
    import subprocess
    import sys

    probe = ("import atexit, gc, sys; from modelguard import cli; from modelguard.runtime import COLLECTOR_THRESHOLDS\n"
             "atexit.register(lambda: print(gc.get_threshold() == COLLECTOR_THRESHOLDS, gc.get_count()[2] == 0 "
             "and gc.get_freeze_count() > 0))\n"
             "sys.argv = ['modelguard', '--help']\n"
             "try:\n    cli.main()\nexcept SystemExit:\n    pass\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "True True", done.stdout + done.stderr

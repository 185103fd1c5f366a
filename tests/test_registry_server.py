"""Champion vs challenger against a real `mlflow server --app-name modelguard` (SQLite backend, basic auth, free
loopback port; the pipeline logs in as its own account): concept drift -> challenger pending -> an approver
approves by tag through the MLflow REST API (the server stamps her) ->
promotion -> the concept reverts -> automatic rollback. Then the server dies: a promotion fails
cleanly without touching the registry, and the next run after a restart finishes the job, including
an alias move a crash left half-done."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from modelguard import decisions
from modelguard.registry import CHALLENGER, CHAMPION, PENDING_MOVE_TAG, PREVIOUS_CHAMPION, Registry
from modelguard.storage import Lake
from tests.conftest import PROJECT, simulated_lake
from tests.test_e2e_replay import modelguard

pytestmark = pytest.mark.e2e
MLFLOW = str(Path(sys.executable).parent / "mlflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ADMIN_PASSWORD, PIPELINE_PASSWORD, APPROVER = "admin-password-registry", "pipeline-password-registry", "alice"


class MlflowServer:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.process = folder, _free_port(), None
        self.ini = folder / "auth.ini"
        self.ini.write_text("[mlflow]\ndefault_permission = READ\nadmin_username = admin\n"
                            f"database_uri = sqlite:///{folder / 'auth.db'}\nauth_cache_ttl_seconds = 60\n"
                            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MLFLOW, "server", "--app-name", "modelguard", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
             "--default-artifact-root", (self.folder / "artifacts").as_uri()],
            stdout=open(self.folder / "server.log", "a"), stderr=subprocess.STDOUT,  # noqa: SIM115 - lives with the server
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                 "MLFLOW_AUTH_CONFIG_PATH": str(self.ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "registry-test",
                 "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD, "MODELGUARD_MLFLOW_PIPELINE_PASSWORD": PIPELINE_PASSWORD,
                 "MODELGUARD_CONFIG": str(self.folder / "pipeline.yaml")},
            start_new_session=True)
        deadline = time.monotonic() + 180  # a loaded 2-core machine can take a minute to boot it
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=1)
                return
            except OSError:
                time.sleep(0.5)
        self.kill()  # never leave a half-started server behind
        raise RuntimeError(f"mlflow server did not start: {(self.folder / 'server.log').read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the server and its workers (uvicorn, job runners): its whole process group."""
        with contextlib.suppress(ProcessLookupError):  # the group may be gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def post(self, path: str, body: dict, user: str, password: str) -> None:
        request = urllib.request.Request(f"{self.url}/{path}", data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()})
        urllib.request.urlopen(request, timeout=10).read()

    def add_approver(self, model: str) -> None:
        """What an MLflow admin does for a person: an account, and EDIT on the model."""
        self.post("api/2.0/mlflow/users/create", {"username": APPROVER, "password": APPROVER * 4}, "admin",
                  ADMIN_PASSWORD)
        self.post("api/3.0/mlflow/users/permissions/grant", {"username": APPROVER, "resource_type": "registered_model",
                  "resource_id": model, "permission": "EDIT"}, "admin", ADMIN_PASSWORD)

    def set_tag(self, name: str, version: str, key: str, value: str) -> None:
        """What the approver does in the MLflow UI: one REST call, as her."""
        self.post("api/2.0/mlflow/model-versions/set-tag", {"name": name, "version": version, "key": key,
                                                            "value": value}, APPROVER, APPROVER * 4)


@pytest.fixture(scope="module")
def world(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("server")
    server = MlflowServer(folder)
    server.start()
    request.addfinalizer(server.kill)  # also when the set-up below fails
    # this process and the CLI subprocesses are the pipeline: its own account (the server app created it)
    login = {"MLFLOW_TRACKING_USERNAME": "modelguard", "MLFLOW_TRACKING_PASSWORD": PIPELINE_PASSWORD}
    saved = {key: os.environ.get(key) for key in login}
    os.environ.update(login)
    request.addfinalizer(lambda: [os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
                                  for k, v in saved.items()])
    config, env = simulated_lake(  # registers the first champion through the server
        folder, 16, ["concept_drift@3", "reversal@10"], mlflow={"tracking_uri": server.url},
        approval={"approvers": [APPROVER]},
        challenger={"window_days": 4, "holdout_days": 1, "min_rows": 1000, "every_days": 60, "bootstrap_rounds": 200},
        policy={"performance_window_days": 1, "cooldown_days": 1, "guardrail_days": 1},
        validation={"min_rows": 50})
    server.add_approver(config.model.name)
    return server, config, env


def _pending(registry: Registry) -> str | None:
    challenger = registry.by_alias(CHALLENGER)
    return challenger.version if challenger and challenger.approval == "pending" else None


def test_drift_approval_promotion_reversal_rollback(world) -> None:
    server, config, env = world
    registry = Registry(config)
    lake = Lake(config.storage_root)
    days = [f"2026-09-{d:02d}" for d in range(1, 17)]
    # Drift on 09-04, labels three days late: the first request can come on 09-08. Then day by day.
    modelguard("replay", "--start", days[0], "--end", days[7], env=env)
    day = 8
    while _pending(registry) is None and day < 11:
        modelguard("replay", "--start", days[day], "--end", days[day], env=env)
        day += 1
    version = _pending(registry)
    assert version is not None, "no challenger asked for approval after the concept drift"
    assert registry.aliases()[CHAMPION] == "1"
    server.set_tag(config.model.name, version, "approval", "approved")  # what a person does in the UI
    modelguard("replay", "--start", days[day], "--end", days[-1], env=env)

    log = decisions.read_decisions(lake)
    promoted = [e for e in log if e["action"] == "promote"]
    assert promoted and promoted[0]["model_version"] == version
    # the server's stamp, not a client's word: the line names the approver, verified
    assert (promoted[0]["approved_by"], promoted[0]["identity_verified"]) == (APPROVER, True)
    rolled = [e for e in log if e["action"] == "rollback"]
    assert rolled, "the reversal did not roll back the promotion"
    assert rolled[0]["batch_id"] > "2026-09-11"  # the reversal starts on 09-11
    assert registry.aliases()[CHAMPION] == "1"  # the original model serves again
    assert registry.get(version).tags["rolled_back_on"] == rolled[0]["batch_id"]


def test_promotion_with_the_server_down_fails_cleanly_and_a_rerun_finishes(world) -> None:
    server, config, env = world
    registry = Registry(config)
    target = max((v for v in registry.versions() if v.version != registry.aliases()[CHAMPION]),
                 key=lambda v: int(v.version)).version
    before = registry.aliases()
    server.kill()
    done = subprocess.run([sys.executable, "-m", "modelguard.cli", "replay", "--start", "2026-09-16", "--end",
                           "2026-09-16"], env=env, capture_output=True, text=True, cwd=PROJECT, timeout=900)
    assert done.returncode == 1 and "failed for 2026-09-16" in done.stdout
    server.start()
    assert registry.aliases() == before  # nothing half-moved

    # A crash after the first steps of a promotion: intent written, previous_champion moved, champion not.
    champion = before[CHAMPION]
    registry.set_model_tag(PENDING_MOVE_TAG, {"kind": "promote", "to": target, "from": champion,
                                              "batch_id": "2026-09-16", "by": "test"})
    registry.set_alias(PREVIOUS_CHAMPION, champion)
    modelguard("replay", "--start", "2026-09-16", "--end", "2026-09-16", env=env)
    assert registry.aliases()[CHAMPION] == target
    assert registry.aliases()[PREVIOUS_CHAMPION] == champion
    assert PENDING_MOVE_TAG not in registry.model_tags()

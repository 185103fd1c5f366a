"""The registry server proves who approved (`mlflow server --app-name modelguard`, a real server on a free loopback
port): stamps only it writes, approvers only, four eyes, the pipeline's own account refused, REST and the UI's
ajax routes alike. The rules themselves are pure functions, tested without a server at the end."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from modelguard.approval import Unverified, verdict_of
from modelguard.config import ApprovalConfig, parse_config
from modelguard.registry import Registry
from modelguard.registry_server import (
    Actor,
    refusal_for_alias,
    refusal_for_model_tag,
    refusal_for_version_tag,
)
from tests.live_stack import free_port

MLFLOW = str(Path(sys.executable).parent / "mlflow")
MODEL = "guarded"
ADMIN_PASSWORD = "admin-password-for-tests"
PIPELINE_PASSWORD = "pipeline-password-for-tests"
PEOPLE = {"alice": "approver", "carol": "approver", "dave": "oncall role", "bob": "edit, not an approver"}


def _password(user: str) -> str:
    return {"admin": ADMIN_PASSWORD, "modelguard": PIPELINE_PASSWORD}.get(user, f"{user}-password-for-tests")


class Server:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = folder / "pipeline.yaml"
        self.config.write_text(json.dumps({
            "model": {"name": MODEL, "task": "binary_classification", "target": "y", "id_column": "id",
                      "features": {"numeric": ["a"]}},
            "mlflow": {"tracking_uri": self.url},
            "approval": {"approvers": ["alice", "carol", "role:oncall"]}}))

    def start(self) -> None:
        ini = self.folder / "auth.ini"
        ini.write_text("[mlflow]\ndefault_permission = READ\nadmin_username = admin\n"
                       f"database_uri = sqlite:///{self.folder / 'auth.db'}\n"
                       "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                       "auth_cache_ttl_seconds = 60\n")  # as compose: no slow hash per request
        env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret",
               "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD, "MODELGUARD_CONFIG": str(self.config),
               "MODELGUARD_MLFLOW_PIPELINE_PASSWORD": PIPELINE_PASSWORD, "MLFLOW_DISABLE_TELEMETRY": "true",
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.process = subprocess.Popen(
            [MLFLOW, "server", "--app-name", "modelguard", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
             "--artifacts-destination", str(self.folder / "artifacts")],
            stdout=open(self.folder / "server.log", "a"), stderr=subprocess.STDOUT,  # noqa: SIM115
            env=env, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.url}/health", timeout=1)
                return
            time.sleep(0.5)
        raise RuntimeError(f"mlflow server did not start: {(self.folder / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(30)

    def call(self, user: str, method: str, path: str, body: dict | None = None, api: str = "api") -> tuple[int, dict]:
        """One REST call as `user` (`api="ajax-api"`: the route the MLflow UI's own pages call)."""
        data = json.dumps(body).encode() if body is not None and method != "GET" else None
        url = f"{self.url}/{api}/2.0/{path}"
        if method == "GET" and body:
            url += "?" + "&".join(f"{k}={v}" for k, v in body.items())
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{user}:{_password(user)}".encode()).decode()})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, {"message": text}

    def tags(self, version: str) -> dict[str, str]:
        _, body = self.call("admin", "GET", "mlflow/model-versions/get", {"name": MODEL, "version": version})
        return {t["key"]: t["value"] for t in body["model_version"].get("tags", [])}

    def model_tags(self) -> dict[str, str]:
        _, body = self.call("admin", "GET", "mlflow/registered-models/get", {"name": MODEL})
        return {t["key"]: t["value"] for t in body["registered_model"].get("tags", [])}

    def set_tag(self, user: str, version: str, key: str, value: str, api: str = "api") -> tuple[int, dict]:
        return self.call(user, "POST", "mlflow/model-versions/set-tag",
                         {"name": MODEL, "version": version, "key": key, "value": value}, api=api)

    def register(self, user: str, experiment: str, tags: dict[str, str] | None = None) -> tuple[int, dict]:
        """A version registered by `user` from a run of theirs (a file logged through the artifact proxy)."""
        status, body = self.call(user, "POST", "mlflow/experiments/create", {"name": experiment})
        if status != 200:
            _, body = self.call(user, "GET", "mlflow/experiments/get-by-name", {"experiment_name": experiment})
            experiment_id = body["experiment"]["experiment_id"]
        else:
            experiment_id = body["experiment_id"]
        _, run = self.call(user, "POST", "mlflow/runs/create", {"experiment_id": experiment_id})
        info = run["run"]["info"]
        return self.call(user, "POST", "mlflow/model-versions/create", {
            "name": MODEL, "source": f"{info['artifact_uri']}/model", "run_id": info["run_id"],
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]})


@contextlib.contextmanager
def serving(folder: Path):
    """A started server with the people above (EDIT on the model, dave in role oncall) and the pipeline's model;
    the one way this file and tests/test_approval_browser.py start it."""
    from mlflow.server import get_app_client

    found = Server(folder)
    found.start()
    try:
        with _login("admin"):
            admin = get_app_client("modelguard", tracking_uri=found.url)  # basic-auth's client, by our app's name
            for user in PEOPLE:
                admin.create_user(user, _password(user))
        status, body = found.call("modelguard", "POST", "mlflow/registered-models/create", {"name": MODEL})
        assert status == 200, body  # the pipeline's account exists (the app made it) and owns the model
        with _login("admin"):
            for user in PEOPLE:  # every person may EDIT the model: what they may do beyond that is the app's rule
                admin.grant_user_permission(user, "registered_model", MODEL, "EDIT")
            role = admin.create_role("default", "oncall")
            admin.assign_role("dave", role.id)
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("approval_server")) as found:
        yield found


@contextlib.contextmanager
def _login(user: str):
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ.update(MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=_password(user))
    try:
        yield
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def _requested(server: Server) -> str:
    """A challenger as the pipeline registers it: approval requested (pending)."""
    status, body = server.register("modelguard", "modelguard", {"approval": "pending", "compared_with": "1"})
    assert status == 200, body
    return body["model_version"]["version"]


def test_the_server_stamps_the_pipeline_as_registrar_and_requester(server) -> None:
    version = _requested(server)
    tags = server.tags(version)
    assert tags["registered_by"] == "modelguard" and tags["approval_requested_by"] == "modelguard"
    assert tags["registered_at"].endswith("+00:00") and "approved_by" not in tags


def test_the_pipeline_cannot_approve_its_own_challenger(server) -> None:
    version = _requested(server)
    status, body = server.set_tag("modelguard", version, "approval", "approved")
    assert status == 403 and "the pipeline's account 'modelguard' may not approve" in body["message"]
    tags = server.tags(version)
    assert tags["approval"] == "pending" and "approved_by" not in tags


def test_a_non_approver_with_edit_gets_a_403_with_a_sentence(server) -> None:
    version = _requested(server)
    assert server.set_tag("bob", version, "note", "looks fine")[0] == 200  # bob has EDIT on the model
    for value in ("approved", "rejected"):
        status, body = server.set_tag("bob", version, "approval", value)
        assert status == 403 and "only approval.approvers may (alice, carol, role:oncall)" in body["message"]
    status, body = server.set_tag("bob", version, "approval", "pending")  # nor the pipeline's states
    assert status == 403 and "may not change the approval state" in body["message"]
    assert server.tags(version)["approval"] == "pending"


def test_a_forged_stamp_is_refused_whoever_writes_it(server) -> None:
    version = _requested(server)
    for user in ("bob", "alice", "modelguard", "admin"):
        status, body = server.set_tag(user, version, "approved_by", "alice")
        assert status == 403 and "written by the registry server only" in body["message"], (user, body)
        status, _ = server.call(user, "DELETE", "mlflow/model-versions/delete-tag",
                                {"name": MODEL, "version": version, "key": "registered_by"})
        assert status == 403, user
    status, body = server.register("bob", "bobs", {"approval": "approved", "approved_by": "alice"})
    assert status == 403, body  # nor smuggled in with a new version
    for key in ("champion_moved_by", "pending_alias_move"):
        status, body = server.call("alice", "POST", "mlflow/registered-models/set-tag",
                                   {"name": MODEL, "key": key, "value": "{}"})
        assert status == 403, (key, body)
    assert "approved_by" not in server.tags(version)


def test_an_approver_approves_through_rest_and_through_the_uis_route(server) -> None:
    by_rest, by_ui = _requested(server), _requested(server)
    assert server.set_tag("alice", by_rest, "approval", "approved")[0] == 200
    assert server.set_tag("dave", by_ui, "approval", "approved", api="ajax-api")[0] == 200  # role:oncall
    rest, ui = server.tags(by_rest), server.tags(by_ui)
    assert (rest["approval"], rest["approved_by"]) == ("approved", "alice")
    assert (ui["approval"], ui["approved_by"]) == ("approved", "dave")
    assert rest["approved_at"] <= ui["approved_at"]
    rejected = _requested(server)
    assert server.set_tag("carol", rejected, "approval", "rejected", api="ajax-api")[0] == 200
    assert server.tags(rejected)["rejected_by"] == "carol"


def test_four_eyes_the_requester_and_the_registrar_cannot_approve(server) -> None:
    version = _requested(server)
    assert server.set_tag("carol", version, "approval", "pending")[0] == 200  # carol asks for it again
    assert server.tags(version)["approval_requested_by"] == "carol"
    status, body = server.set_tag("carol", version, "approval", "approved")
    assert status == 403 and "four eyes: carol requested the approval of" in body["message"]
    assert server.set_tag("alice", version, "approval", "approved")[0] == 200
    status, body = server.register("carol", "carols")  # a version carol registered herself
    assert status == 200, body
    own = body["model_version"]["version"]
    status, body = server.set_tag("carol", own, "approval", "approved")
    assert status == 403 and "four eyes: carol registered" in body["message"]


def test_only_approvers_and_the_pipeline_move_champion_and_the_server_says_who(server) -> None:
    first, second = _requested(server), _requested(server)

    def move(user: str, version: str, api: str = "api") -> tuple[int, dict]:
        return server.call(user, "POST", "mlflow/registered-models/alias",
                           {"name": MODEL, "alias": "champion", "version": version}, api=api)

    assert move("modelguard", first)[0] == 200
    assert server.model_tags()["champion_moved_by"] == "modelguard"
    status, body = move("bob", second)
    assert status == 403 and "may not move 'champion'" in body["message"]
    assert move("alice", second, api="ajax-api")[0] == 200
    stamp = server.model_tags()
    assert (stamp["champion_moved_by"], stamp["champion_moved_to"], stamp["champion_moved_from"]) == \
        ("alice", second, first)
    status, body = server.call("admin", "DELETE", "mlflow/registered-models/alias",
                               {"name": MODEL, "alias": "champion"})
    assert status == 403 and "never left without a champion" in body["message"]
    status, _ = server.call("bob", "POST", "mlflow/registered-models/alias",
                            {"name": MODEL, "alias": "previous_champion", "version": first})
    assert status == 403


def test_the_pipelines_record_is_not_edited_by_hand_and_writes_are_unambiguous(server) -> None:
    version = _requested(server)
    for key in ("comparison", "compared_with", "promoted_on", "approval_refused"):
        status, body = server.call("bob", "DELETE", "mlflow/model-versions/delete-tag",
                                   {"name": MODEL, "version": version, "key": key})
        assert status == 403 and "the pipeline's record" in body["message"], (key, body)
    assert server.set_tag("modelguard", version, "comparison", "passed")[0] == 200
    # the same delete with its parameters in the query string (what basic-auth reads for a non-JSON DELETE)
    request = urllib.request.Request(
        f"{server.url}/api/2.0/mlflow/model-versions/delete-tag?name={MODEL}&version={version}&key=note",
        method="DELETE", headers={"Authorization": "Basic " + base64.b64encode(
            f"bob:{_password('bob')}".encode()).decode()})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403 and b"one JSON object in the body" in refused.value.read()
    status, body = server.call("modelguard", "POST", "mlflow/registered-models/rename",
                               {"name": MODEL, "new_name": "elsewhere"})
    assert status == 403 and "cannot be renamed" in body["message"]


def test_promote_trusts_only_what_this_server_stamped(server, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "modelguard")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PIPELINE_PASSWORD)
    config = parse_config(json.loads(server.config.read_text()), base_dir=server.folder)
    policy = Registry(config).approval_policy()
    assert policy["app"] == "modelguard" and policy["user"] == "modelguard" and policy["may_approve"] is False
    version = _requested(server)
    server.set_tag("alice", version, "approval", "approved")
    verdict = verdict_of(Registry(config).get(version).tags, "approved", server=True, policy=policy)
    assert (verdict.by, verdict.verified) == ("alice", True)
    # the same tags from a server that does not stamp (no approval-policy route) prove nothing
    with pytest.raises(Unverified, match="does not stamp"):
        verdict_of(Registry(config).get(version).tags, "approved", server=True, policy=None)


# --- the rules, without a server ---------------------------------------------------------------------------
RULES = ApprovalConfig(approvers=["alice", "role:oncall"])
ALICE, BOB, DAVE = Actor("alice"), Actor("bob"), Actor("dave", roles=frozenset({"oncall"}))
PIPELINE, ADMIN = Actor("modelguard"), Actor("admin", is_admin=True)


@pytest.mark.parametrize(("actor", "key", "value", "tags", "refused"), [
    (ALICE, "approval", "approved", {}, None),
    (DAVE, "approval", "approved", {}, None),
    (BOB, "approval", "approved", {}, "only approval.approvers"),
    (ADMIN, "approval", "approved", {}, "only approval.approvers"),  # approvers are listed: admins are not in
    (PIPELINE, "approval", "approved", {}, "pipeline's account"),
    (PIPELINE, "approval", "rejected", {}, "pipeline's account"),
    (PIPELINE, "approval", "superseded", {}, None),
    (BOB, "approval", "superseded", {}, "may not change the approval state"),
    (ALICE, "approval", "approved", {"approval_requested_by": "alice"}, "four eyes"),
    (ALICE, "approval", "approved", {"registered_by": "alice"}, "four eyes"),
    (ALICE, "approval", "rejected", {"registered_by": "alice"}, None),  # saying no to one's own work is fine
    (ALICE, "approved_by", "alice", {}, "registry server only"),
    (ALICE, "approval", None, {}, None),
    (BOB, "approval", None, {}, "may not change"),
    (BOB, "note", "hello", {}, None),
], ids=lambda v: v.name if isinstance(v, Actor) else None)
def test_version_tag_rules(actor, key, value, tags, refused) -> None:
    why = refusal_for_version_tag(actor, RULES, MODEL, "7", key, value, tags)
    assert (why is None) if refused is None else (refused in why), why


def test_a_hand_move_by_the_pipelines_account_is_not_a_persons() -> None:
    from modelguard.promote import hand_mover

    class Tags:
        def __init__(self, by: str) -> None:
            self.by = by

        def model_tags(self) -> dict[str, str]:
            return {"champion_moved_by": self.by, "champion_moved_to": "5", "champion_moved_at": "t"}

    config = parse_config({"model": {"name": MODEL, "task": "binary_classification", "target": "y",
                                     "id_column": "id", "features": {"numeric": ["a"]}},
                           "mlflow": {"tracking_uri": "http://127.0.0.1:1"}}, base_dir=Path("/tmp"))
    assert hand_mover(config, Tags("alice"), "5")["identity_verified"] is True
    assert hand_mover(config, Tags("modelguard"), "5")["identity_verified"] is False
    assert hand_mover(config, Tags("alice"), "6")["identity_verified"] is False  # the stamp is of another move


def test_with_no_approvers_listed_only_admins_approve_never_the_pipeline() -> None:
    rules = ApprovalConfig()
    assert refusal_for_version_tag(ADMIN, rules, MODEL, "7", "approval", "approved", {}) is None
    assert "admins" in refusal_for_version_tag(ALICE, rules, MODEL, "7", "approval", "approved", {})
    admin_pipeline = Actor("modelguard", is_admin=True)
    assert "pipeline" in refusal_for_version_tag(admin_pipeline, rules, MODEL, "7", "approval", "approved", {})


def test_alias_and_model_tag_rules() -> None:
    assert refusal_for_alias(PIPELINE, RULES, MODEL, "champion", "3", {}) is None
    assert refusal_for_alias(ALICE, RULES, MODEL, "champion", "3", {}) is None
    assert "four eyes" in refusal_for_alias(ALICE, RULES, MODEL, "champion", "3", {"registered_by": "alice"})
    assert "may not move" in refusal_for_alias(BOB, RULES, MODEL, "champion", "3", {})
    assert "never left without" in refusal_for_alias(PIPELINE, RULES, MODEL, "champion", None, {})
    assert refusal_for_alias(BOB, RULES, MODEL, "staging", "3", {}) is None  # not the product's alias
    assert "intent" in refusal_for_model_tag(ALICE, RULES, MODEL, "pending_alias_move")
    assert refusal_for_model_tag(PIPELINE, RULES, MODEL, "pending_alias_move") is None
    assert "server only" in refusal_for_model_tag(PIPELINE, RULES, MODEL, "champion_moved_by")


@pytest.mark.parametrize(("tags", "policy", "server", "outcome"), [
    ({"approved_by": "alice", "approved_at": "t"}, {"app": "modelguard"}, True, ("alice", True)),
    ({"approved_by": "alice"}, {"app": "modelguard"}, True, "no server stamp"),
    ({"approved_by": "alice", "approved_at": "t"}, None, True, "does not stamp"),
    ({"approved_by": "alice", "approved_at": "t", "registered_by": "alice"}, {"app": "modelguard"}, True,
     "four eyes"),
    ({"approved_by": "alice", "approved_at": "t", "registered_by": "alice"},
     {"app": "modelguard", "four_eyes": False}, True, ("alice", True)),
    ({"approved_by": "modelguard", "approved_at": "t"}, {"app": "modelguard", "pipeline_user": "modelguard"}, True,
     "pipeline's own account"),
    ({"approved_by": "ops"}, None, False, ("ops", False)),  # embedded: the OS user's word, unverified
    ({}, None, False, ("unknown (tag set directly)", False)),
    ({"approved_by": "modelguard", "approved_at": "t"},
     {"app": "modelguard", "pipeline_user": "modelguard", "four_eyes": False}, True, "pipeline's own account"),
    ({"approved_by": "alice", "approved_at": "2026-09-01T10:00:00+00:00",
      "approval_requested_at": "2026-09-02T10:00:00+00:00"}, {"app": "modelguard"}, True, "earlier request"),
], ids=["stamped", "half-stamped", "plain-server", "four-eyes", "four-eyes-off", "pipeline", "embedded",
        "embedded-bare-tag", "pipeline-four-eyes-off", "stale-approval"])
def test_what_promote_accepts_as_an_approval(tags, policy, server, outcome) -> None:
    if isinstance(outcome, str):
        with pytest.raises(Unverified, match=outcome):
            verdict_of(tags, "approved", server=server, policy=policy)
    else:
        verdict = verdict_of(tags, "approved", server=server, policy=policy)
        assert (verdict.by, verdict.verified) == outcome

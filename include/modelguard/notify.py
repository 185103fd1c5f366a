"""Notifications: what a decision or a failed task tells a person, and the two ways it is sent.

Message building is pure (subject, plain-text body, JSON payload). The senders are e-mail over SMTP
(smtplib) and a JSON POST to a generic webhook (urllib). No Airflow here: `modelguard.notifiers`
calls `notify_run` / `notify_failure` from Airflow task callbacks.

Every message has an identity; a decision's is the decision log's (batch_id, dag_id, action,
model_version). The lake's outbox, `notifications/<id>.json`, records per channel when the message
was sent or why it was not. A message is never sent twice on a channel, so a rerun of a day is
silent; one that failed stays pending there and is retried by the next notification of any run (or
a rerun of its day). Sending never touches the decision log: a dead receiver loses no decision.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import smtplib
import ssl
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from modelguard.config import PipelineConfig, SmtpConfig, WebhookConfig
from modelguard.decisions import IDENTITY, read_decisions
from modelguard.registry import version_url
from modelguard.storage import Lake, to_jsonable

log = logging.getLogger(__name__)

TASK_FAILURE = "task_failure"
MISSING_BATCH = "missing_batch"
# `no_action` lines whose alert a person must hear about: each is its own notification event.
ALERT_EVENTS = (MISSING_BATCH, "approval_refused", "approval_expired", "approval_superseded")

_HEADLINES: dict[str, str] = {
    "accept_batch": "Batch accepted",
    "quarantine_batch": "Batch quarantined",
    MISSING_BATCH: "Batch missing",
    "approval_refused": "Approval of v{version} refused",
    "approval_expired": "Approval request for v{version} expired",
    "approval_superseded": "Approval request for v{version} superseded",
    "drift_alert": "Drift alert",
    "performance_alert": "Performance alert",
    "register_challenger": "Challenger v{version} registered",
    "request_approval": "Approval requested for v{version}",
    "promote": "v{version} promoted to champion",
    "rollback": "Rolled back to v{version}",
    "no_action": "No action",
}
# Evidence worth a line in the body (the full decision is in the webhook payload and the log).
_DETAILS = ("kind", "failed", "previous_champion", "rolled_back", "by", "forced_by", "superseded_by",
            "approved_by", "approved_at", "rejected_by", "moved_by", "identity_verified")


class NotificationError(RuntimeError):
    """A channel did not take a message; the message stays pending in the outbox."""


@dataclass(frozen=True)
class Message:
    key: str  # identity: one message per key and channel, ever
    event: str
    subject: str
    body: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "event": self.event, "subject": self.subject, "body": self.body,
                "payload": self.payload}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(key=data["key"], event=data["event"], subject=data["subject"], body=data["body"],
                   payload=dict(data["payload"]))


# --- pure message building ---------------------------------------------------------------------
def event_of(decision: Mapping[str, Any]) -> str:
    """The notification event of a decision: its action, or for a `no_action` line an alert a person must
    hear about (`missing_batch`, `approval_refused`, `approval_expired`, `approval_superseded`)."""
    if decision.get("action") == "no_action" and decision.get("alert") in ALERT_EVENTS:
        return str(decision["alert"])
    return str(decision.get("action"))


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def decision_key(decision: Mapping[str, Any]) -> str:
    return "decision-" + _digest(*(decision.get(k) for k in IDENTITY))


def run_decisions(decisions: Iterable[Mapping[str, Any]], dag_id: str, batch_id: str,
                  events: Iterable[str]) -> list[dict]:
    """Decisions of `dag_id` about `batch_id` whose event is in `events`.

    Label files are refused under their own day's batch_id, with the run's day as `on_day`.
    """
    wanted = set(events)
    return [dict(d) for d in decisions
            if d.get("dag_id") == dag_id and batch_id in (d.get("batch_id"), d.get("on_day"))
            and event_of(d) in wanted]


def mlflow_ui_url(config: PipelineConfig) -> str | None:
    """The MLflow UI to link to: configured, else the tracking server when it is one (not a SQLite file)."""
    if config.notifications.mlflow_ui_url:
        return config.notifications.mlflow_ui_url
    uri = config.tracking_uri
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else None


def decision_links(config: PipelineConfig, decision: Mapping[str, Any]) -> dict[str, str]:
    """Where a person looks next: the quarantine or drift report in the lake, the MLflow version."""
    lake = Lake(config.storage_root)
    batch_id, event = decision.get("batch_id"), event_of(decision)
    links: dict[str, str] = {}
    if batch_id and event == "quarantine_batch":
        folder = lake.quarantine_dir(batch_id, "labels" if decision.get("kind") == "labels" else "batches")
        links.update(report=str(folder / "report.html"), reason=str(folder / "reason.json"))
    elif batch_id and event == MISSING_BATCH:
        links["landing"] = str(lake.root / "landing" / "batches")
    elif batch_id and event in ("drift_alert", "performance_alert"):
        folder = lake.report_dir(batch_id)
        links.update(drift_report=str(folder / "drift.html"), checklist=str(folder / "checklist.md"),
                     assessment=str(folder / "assessment.json"))
    ui, version = mlflow_ui_url(config), decision.get("model_version")
    if ui and version:
        links["mlflow_version"] = version_url(ui, config.model.name, version)
    return links


def _next_step(config: PipelineConfig, event: str, version: str | None) -> str | None:
    if event == "request_approval":
        return (f"To approve, set the tag approval=approved on version {version} of {config.model.name!r} in the "
                f"MLflow UI (or run `modelguard approve {version}`); approval=rejected rejects it. The next "
                "modelguard_promote run applies it.")
    if event == "quarantine_batch":
        return ("The batch is not scored or trained on. To release a fixed file, put it at "
                "quarantine/<batch_id>/fixed.parquet and trigger modelguard_release (or `modelguard release DAY`).")
    if event == "rollback":
        return "The champion alias was moved back; the rolled-back version keeps its tags for the record."
    return None


def _layout(title: str, fields: list[tuple[str, Any]], sections: list[tuple[str, list[str]]]) -> str:
    lines = [f"modelguard: {title}", ""]
    lines += [f"{name + ':':<10} {value}" for name, value in fields if value not in (None, "", [])]
    for heading, items in sections:
        if items:
            lines += ["", f"{heading}:", *(f"  {item}" for item in items)]
    return "\n".join(lines) + "\n"


def decision_message(config: PipelineConfig, decision: Mapping[str, Any], run_url: str | None = None) -> Message:
    """Subject, text body and webhook payload for one decision of the log."""
    event, version = event_of(decision), decision.get("model_version")
    model, batch_id = config.model.name, decision.get("batch_id")
    headline = _HEADLINES.get(event, event).format(version=version or "?")
    if event == "quarantine_batch" and decision.get("kind") == "labels":
        headline = "Label file quarantined"
    if event == "request_approval" and decision.get("partial_fix"):
        # what a person approves must be plain from the subject: this one beats the champion, does not repair
        headline += " (PARTIAL FIX: below the service level)"
    subject = f"[modelguard] {headline}: {model}, batch {batch_id}"
    links = decision_links(config, decision)
    if run_url:
        links["airflow_run"] = run_url
    details = []
    for name in _DETAILS:
        value = decision.get(name)
        if isinstance(value, list):
            value = "; ".join(map(str, value[:5])) + (f" (+{len(value) - 5} more)" if len(value) > 5 else "")
        if value not in (None, "", []):
            details.append(f"{name}: {value}")
    next_step = _next_step(config, event, version)
    body = _layout(headline, [
        ("Model", model), ("Batch", batch_id), ("Action", decision.get("action")),
        ("Reason", decision.get("reason")), ("Version", f"v{version}" if version else None),
        ("DAG", decision.get("dag_id")), ("Recorded", decision.get("at")),
    ], [("Details", details), ("Next step", [next_step] if next_step else []),
        ("Links", [f"{name}: {url}" for name, url in links.items()])])
    key = decision_key(decision)
    payload = {
        "source": "modelguard", "id": key, "event": event, "model": model,
        **{name: decision.get(name) for name in (*IDENTITY, "reason", "at")},
        "links": links, "subject": subject, "text": f"{subject}\n\n{body}", "decision": to_jsonable(dict(decision)),
    }
    return Message(key=key, event=event, subject=subject, body=body, payload=payload)


def failure_message(config: PipelineConfig, *, dag_id: str, task_id: str, run_id: str, try_number: int | None,
                    batch_id: str | None, exception: BaseException | str | None,
                    log_url: str | None = None) -> Message:
    """A task that failed for good (retries exhausted): where, which batch, why, and its log."""
    if isinstance(exception, BaseException):
        error = f"{type(exception).__name__}: {exception}"
    else:
        error = str(exception) if exception else "unknown (see the log)"
    error = error if len(error) <= 2000 else error[:2000] + " [...]"
    subject = f"[modelguard] Task failed: {dag_id}.{task_id}, batch {batch_id or '?'}"
    body = _layout(f"task {task_id} of {dag_id} failed", [
        ("Model", config.model.name), ("Batch", batch_id), ("DAG", dag_id), ("Task", task_id),
        ("Run", run_id), ("Try", try_number), ("Error", error),
    ], [("Links", [f"log: {log_url}"] if log_url else [])])
    key = "failure-" + _digest(dag_id, run_id, task_id, try_number)
    payload = {"source": "modelguard", "id": key, "event": TASK_FAILURE, "model": config.model.name,
               "dag_id": dag_id, "task_id": task_id, "run_id": run_id, "try_number": try_number,
               "batch_id": batch_id, "exception": error, "links": {"log": log_url} if log_url else {},
               "subject": subject, "text": f"{subject}\n\n{body}"}
    return Message(key=key, event=TASK_FAILURE, subject=subject, body=body, payload=payload)


# --- senders -----------------------------------------------------------------------------------
def send_email(smtp: SmtpConfig, message: Message, password: str | None = None) -> None:
    """Send `message` as a plain-text e-mail; raises on any refusal so the caller keeps it pending."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(smtp.recipients)
    mail["Message-ID"] = make_msgid(idstring=message.key, domain="modelguard.local")  # no DNS lookup
    mail["X-Modelguard-Id"] = message.key
    mail["X-Modelguard-Event"] = message.event
    mail.set_content(message.body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, password or "")
        refused = client.send_message(mail)
    if refused:  # some recipients took it: resending would duplicate it for them, so only warn
        log.warning("SMTP server refused %s for %s", sorted(refused), message.subject)


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(parts.scheme)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects stay on the webhook's own scheme, host and port (urllib's default follows them anywhere,
    the Authorization header with them), and keep the POST: only 307/308 are followed, with the same body."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's hook
        if _origin(newurl) != _origin(req.full_url) or code not in (307, 308):
            fp.close()
        if _origin(newurl) != _origin(req.full_url):
            raise NotificationError(f"webhook redirected (HTTP {code}) to another host, {urlsplit(newurl).netloc}: "
                                    "refused (the token never leaves the configured host); configure the final URL")
        if code not in (307, 308):  # 301/302/303 turn the POST into a GET: the message would be dropped
            raise NotificationError(f"webhook answered HTTP {code}, a redirect to {newurl} that drops the POST "
                                    "body: refused; configure the final URL")
        return urllib.request.Request(newurl, data=req.data, headers=dict(req.headers), method=req.get_method(),
                                      origin_req_host=req.origin_req_host, unverifiable=True)


def post_webhook(webhook: WebhookConfig, message: Message, token: str | None = None) -> None:
    """POST the message's JSON payload; any status but 2xx (or no answer, or a redirect off the host) raises."""
    headers = {"Content-Type": "application/json", "User-Agent": "modelguard", **webhook.headers}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(webhook.url, data=json.dumps(message.payload).encode(), headers=headers,
                                     method="POST")
    opener = urllib.request.build_opener(_SameOriginRedirects())
    with opener.open(request, timeout=webhook.timeout) as response:  # raises HTTPError on >= 400
        if not 200 <= response.status < 300:
            raise NotificationError(f"webhook answered HTTP {response.status}")


def _secret(env_name: str | None, key: str, environ: Mapping[str, str]) -> str | None:
    if env_name is None:
        return None
    if not environ.get(env_name):
        raise NotificationError(f"environment variable {env_name} ({key}) is not set")
    return environ[env_name]


def channels(config: PipelineConfig, environ: Mapping[str, str]) -> dict[str, Callable[[Message], None]]:
    """The configured channels, as name -> send(message). Secrets are looked up only when sending."""
    settings = config.notifications
    found: dict[str, Callable[[Message], None]] = {}
    if settings.smtp:
        smtp = settings.smtp
        found["email"] = lambda m: send_email(
            smtp, m, _secret(smtp.password_env, "notifications.smtp.password_env", environ))
    if settings.webhook:
        hook = settings.webhook
        found["webhook"] = lambda m: post_webhook(
            hook, m, _secret(hook.token_env, "notifications.webhook.token_env", environ))
    return found


# --- the outbox: idempotent, loss-free delivery ------------------------------------------------
@dataclass
class Delivery:
    """What one call sent, skipped as already sent, and failed (still pending)."""

    sent: list[tuple[str, str]] = field(default_factory=list)  # (subject, channel)
    already_sent: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (subject, channel, error)

    def raise_for_failures(self) -> None:
        if self.failed:
            lines = "; ".join(f"{channel}: {subject} ({error})" for subject, channel, error in self.failed)
            raise NotificationError(f"{len(self.failed)} notification(s) not sent, kept pending in the outbox "
                                    f"(retried by the next notification or a rerun): {lines}")


class Outbox:
    """`notifications/<key>.json` in the lake: the message and, per channel, `sent_at` or the last error."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.folder = lake.root / "notifications"

    def read(self, key: str) -> dict | None:
        return self.lake.read_json(self.folder / f"{key}.json")

    def write(self, entry: dict) -> None:
        self.lake.write_json(entry, self.folder / f"{entry['key']}.json")

    def pending(self, channel_names: Iterable[str]) -> list[dict]:
        """Entries a configured channel failed to take (a channel added later does not resend history)."""
        names = set(channel_names)
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            entry = self.lake.read_json(path)
            if any(name in names and "sent_at" not in state for name, state in entry["channels"].items()):
                found.append(entry)
        return found


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def deliver(config: PipelineConfig, messages: Iterable[Message], environ: Mapping[str, str],
            retry_pending: bool = True) -> Delivery:
    """Send each message on each configured channel that has not taken it yet; record the outcome.

    A channel that fails is not tried again in this call (a dead receiver costs one timeout, not one
    per message); its messages are recorded as pending. Never raises for a send: see `Delivery`.
    """
    settings, delivery = config.notifications, Delivery()
    if not settings.enabled:
        return delivery
    lake = Lake(config.storage_root)
    outbox, senders = Outbox(lake), channels(config, environ)
    # One notifier at a time: two callbacks racing on the same decision must not both send it.
    with lake.locked("notifications"):
        queue = {m.key: m for m in messages}
        if retry_pending:
            for entry in outbox.pending(senders):
                message = Message.from_dict(entry["message"])
                if message.event in settings.events:
                    queue.setdefault(message.key, message)
        broken: dict[str, str] = {}
        for message in queue.values():
            entry = outbox.read(message.key) or {"key": message.key, "channels": {}}
            entry["message"] = message.to_dict()
            for name, send in senders.items():
                state = entry["channels"].get(name, {})
                if "sent_at" in state:
                    delivery.already_sent.append((message.subject, name))
                    continue
                error = f"not tried, the channel failed earlier: {broken[name]}" if name in broken else None
                if error is None:
                    try:
                        send(message)
                    except Exception as exc:  # any failure keeps the message pending
                        error = broken[name] = f"{type(exc).__name__}: {exc}"
                if error is None:
                    entry["channels"][name] = {"sent_at": _now()}
                    delivery.sent.append((message.subject, name))
                else:
                    entry["channels"][name] = {"error": error, "attempts": state.get("attempts", 0) + 1,
                                               "last_attempt": _now()}
                    delivery.failed.append((message.subject, name, error))
                outbox.write(entry)  # after each channel: a crash between two never resends the first
    return delivery


def notify_run(config: PipelineConfig, dag_id: str, batch_id: str, environ: Mapping[str, str],
               run_url: str | None = None) -> Delivery:
    """Send the decisions a run of `dag_id` recorded for `batch_id` (those in `events`), and pending ones."""
    if not config.notifications.enabled:
        return Delivery()
    chosen = run_decisions(read_decisions(Lake(config.storage_root)), dag_id, batch_id,
                           config.notifications.events)
    return deliver(config, [decision_message(config, d, run_url) for d in chosen], environ)


def notify_failure(config: PipelineConfig, environ: Mapping[str, str], **failure: Any) -> Delivery:
    """Send a task failure (see `failure_message` for the fields) if `task_failure` is in `events`."""
    if not config.notifications.enabled or TASK_FAILURE not in config.notifications.events:
        return Delivery()
    return deliver(config, [failure_message(config, **failure)], environ)

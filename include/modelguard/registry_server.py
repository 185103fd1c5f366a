"""The registry server's approval rules: `mlflow server --app-name modelguard`.

MLflow's basic-auth knows who sends each request, but records no author for a tag and gates every tag and alias
write with one permission (EDIT on the whole model). This app is basic-auth plus the rules an approval needs:

- **Identity.** When a user sets `approval` to `approved` or `rejected`, the server stamps `approved_by` /
  `approved_at` (or `rejected_*`) with the authenticated login and its clock, before the tag itself is written,
  so an approval is never visible without its author. Registering a version stamps `registered_by`; requesting
  an approval (`approval=pending`) stamps `approval_requested_by`. A moved `champion` alias stamps the
  registered model's `champion_moved_by` / `_at` / `_to` / `_from`. No client may write or delete a stamp.
- **Authority.** Only `approval.approvers` (users, or `role:NAME` for an MLflow role; none listed: the MLflow
  admins) may approve, reject, or move `champion` by hand; anyone else, the pipeline's own account included,
  gets a 403 with a sentence. The other approval states and the product's aliases are the pipeline's to write.
- **Four eyes.** The account that registered a version or requested its approval cannot approve it.

The rules are `refusal_for_*`: pure functions of the acting user, the model's `ApprovalConfig` and the
version's tags. The Flask hooks around them only read the request and write stamps through the server's own
store. `GET /api/2.0/modelguard/approval-policy?name=MODEL` tells a client (the pipeline's promote) that this
server stamps approvals, and under which rules.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from modelguard.config import CONFIG_ENV_VAR, ApprovalConfig, ConfigError, load_config
from modelguard.registry import ADOPTED_FROM_TAG, CHALLENGER, CHAMPION, PENDING_MOVE_TAG, PREVIOUS_CHAMPION

APP_NAME = "modelguard"
POLICY_ROUTE = "/api/2.0/modelguard/approval-policy"
OWNED_ALIASES = (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)
PERSON_VERDICTS = ("approved", "rejected")
# Version tags only the server writes: who acted, and when (its clock).
VERDICT_STAMPS = {"approved": ("approved_by", "approved_at"), "rejected": ("rejected_by", "rejected_at"),
                  "pending": ("approval_requested_by", "approval_requested_at")}
REGISTERED_STAMP = ("registered_by", "registered_at")
STAMPED_VERSION_TAGS = frozenset({*(key for pair in VERDICT_STAMPS.values() for key in pair), *REGISTERED_STAMP})
CHAMPION_MOVE_STAMP = ("champion_moved_by", "champion_moved_at", "champion_moved_to", "champion_moved_from")
STAMPED_MODEL_TAGS = frozenset(CHAMPION_MOVE_STAMP)
# Registered-model tags the pipeline alone writes: an alias move's intent is completed by the next run, so a
# forged one would be a promotion.
PIPELINE_MODEL_TAGS = frozenset({PENDING_MOVE_TAG})
# Version tags the pipeline alone writes: what the promote gates and the served/refused state read. Anyone else
# deleting `promoted_on` or `comparison` could make an old approval promote again, or a loser pass its gates.
PIPELINE_VERSION_TAGS = frozenset({
    "trigger", "trained_on", "train_window", "train_rows", "train_key", "holdout_window", "holdout_days",
    "holdout_split", "seen_until", "last_look", "data_hash", "compared_with", "comparison", "comparison_detail",
    "onset", "requested_on", "repairs", "promoted_on", "promoted_by", "promoted_at", "restored_on", "restored_by",
    "rollbackd_at", "rolled_back_on", "approval_refused", "rejection_logged", "superseded_on", "superseded_because",
    ADOPTED_FROM_TAG, "approval_identity"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """The authenticated user of a request."""

    name: str
    is_admin: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)


def may_approve(actor: Actor, policy: ApprovalConfig) -> bool:
    if actor.name == policy.pipeline_user:
        return False
    if not policy.approvers:
        return actor.is_admin
    return actor.name in policy.approvers or any(f"role:{role}" in policy.approvers for role in actor.roles)


def _approvers(policy: ApprovalConfig) -> str:
    return ", ".join(policy.approvers) if policy.approvers else "the MLflow admins (approval.approvers is empty)"


def _four_eyes(actor: Actor, policy: ApprovalConfig, model: str, version: str, tags: dict[str, str]) -> str | None:
    if not policy.four_eyes:
        return None
    for key, what in (("registered_by", "registered"), ("approval_requested_by", "requested the approval of")):
        if tags.get(key) == actor.name:
            return (f"four eyes: {actor.name} {what} {model} v{version}, so another approver must approve it "
                    "(approval.four_eyes)")
    return None


def refusal_for_version_tag(actor: Actor, policy: ApprovalConfig, model: str, version: str, key: str,
                            value: str | None, tags: dict[str, str]) -> str | None:
    """Why `actor` may not set (`value`) or delete (`value` None) version tag `key`; None when they may."""
    if key in STAMPED_VERSION_TAGS:
        return (f"tag {key!r} is written by the registry server only, from the login of whoever acts; set "
                "approval=approved (or rejected) and the server records who you are")
    if key in PIPELINE_VERSION_TAGS:
        return None if actor.name == policy.pipeline_user else (
            f"tag {key!r} of {model} v{version} is the pipeline's record ({policy.pipeline_user}): what the "
            "promotion gates read is not edited by hand")
    if key != "approval":
        return None
    if value in PERSON_VERDICTS:
        if actor.name == policy.pipeline_user:
            return (f"the pipeline's account {actor.name!r} may not approve or reject {model} v{version}: a "
                    f"person in approval.approvers does ({_approvers(policy)})")
        if not may_approve(actor, policy):
            return (f"{actor.name} may not approve or reject versions of {model}: only approval.approvers may "
                    f"({_approvers(policy)})")
        return _four_eyes(actor, policy, model, version, tags) if value == "approved" else None
    if actor.name == policy.pipeline_user or actor.is_admin or may_approve(actor, policy):
        return None
    return (f"{actor.name} may not change the approval state of {model} v{version}: the pipeline "
            f"({policy.pipeline_user}) writes pending, evaluating, superseded and expired, and only "
            f"approval.approvers approve or reject ({_approvers(policy)})")


def refusal_for_model_tag(actor: Actor, policy: ApprovalConfig, model: str, key: str) -> str | None:
    """Why `actor` may not set or delete registered-model tag `key`."""
    if key in STAMPED_MODEL_TAGS:
        return f"tag {key!r} of {model} is written by the registry server only, when `champion` moves"
    if key in PIPELINE_MODEL_TAGS and actor.name != policy.pipeline_user:
        return (f"tag {key!r} of {model} is an alias move's intent, which only the pipeline "
                f"({policy.pipeline_user}) writes: move `champion` itself instead")
    return None


def refusal_for_alias(actor: Actor, policy: ApprovalConfig, model: str, alias: str, version: str | None,
                      tags: dict[str, str]) -> str | None:
    """Why `actor` may not move (`version`) or delete (`version` None) `alias`."""
    if alias not in OWNED_ALIASES:
        return None
    if alias == CHAMPION and version is None:
        return f"{model} is never left without a champion: move the alias to another version instead of deleting it"
    if actor.name == policy.pipeline_user:
        return None
    if not may_approve(actor, policy):
        return (f"{actor.name} may not move {alias!r} of {model}: only approval.approvers ({_approvers(policy)}) "
                "move it by hand, and the pipeline when it promotes or rolls back")
    return _four_eyes(actor, policy, model, version or "?", tags) if alias == CHAMPION else None


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Policies:
    """Each registered model's `ApprovalConfig`, from `source` (`$MODELGUARD_CONFIG`: a file, or a folder of one
    file per model), read again whenever a file changes. A model no config names, or whose file is broken, gets
    the defaults (only admins approve, four eyes)."""

    def __init__(self, source: str | os.PathLike | None = None) -> None:
        self.source = Path(source).expanduser() if source else None
        self._seen: tuple | None = None
        self.by_model: dict[str, ApprovalConfig] = {}

    def _files(self) -> list[Path]:
        if self.source is None:
            return []
        return sorted(self.source.glob("*.yaml")) if self.source.is_dir() else [self.source]

    def _refresh(self) -> None:
        files = self._files()
        seen = tuple((str(f), f.stat().st_mtime_ns if f.exists() else None) for f in files)
        if seen == self._seen:
            return
        by_model, broken = {}, False
        for file in files:
            try:
                config = load_config(file)
            except ConfigError as error:
                log.error("modelguard approval rules: %s", error)
                broken = True
                continue
            by_model[config.model.name] = config.approval
        # a file broken by an edit keeps its model's last good rules (never the laxer defaults)
        self.by_model, self._seen = ({**self.by_model, **by_model} if broken else by_model), seen

    def __call__(self, model: str) -> ApprovalConfig:
        self._refresh()
        return self.by_model.get(model) or ApprovalConfig()

    def names(self) -> list[str]:
        self._refresh()
        return list(self.by_model)

    def pipeline_users(self) -> set[str]:
        self._refresh()
        return {ApprovalConfig().pipeline_user, *(rules.pipeline_user for rules in self.by_model.values())}


PIPELINE_PASSWORD_ENV = "MODELGUARD_MLFLOW_PIPELINE_PASSWORD"


def ensure_pipeline_users(policies: Policies, auth_store, password: str | None) -> list[str]:
    """Create the pipeline's MLflow account(s), never admins, when the server is given their password (compose and
    the live stack do): the tasks then log in as the pipeline, not as the admin."""
    if not password:
        return []
    created = []
    for name in sorted(policies.pipeline_users()):
        if not auth_store.has_user(name):
            auth_store.create_user(name, password, is_admin=False)
            created.append(name)
    return created


def create_app(app=None):
    """MLflow's `mlflow.app` entry point `modelguard`: basic-auth, then the approval rules above."""
    from flask import g, jsonify, request
    from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
    from mlflow.server import app as mlflow_app
    from mlflow.server import auth
    from mlflow.server.handlers import _get_model_registry_store, _get_normalized_request_json

    app = app or mlflow_app
    served = auth.create_app(app)  # the Flask app, or a FastAPI app wrapping it (uvicorn)
    policies = Policies(os.environ.get(CONFIG_ENV_VAR))
    ensure_pipeline_users(policies, auth.store, os.environ.get(PIPELINE_PASSWORD_ENV))

    def actor() -> Actor | None:
        authorization = auth.authenticate_request()
        if not isinstance(authorization, auth.Authorization):
            return None  # basic-auth answers 401
        user = auth.store.get_user(authorization.username)
        roles = frozenset(role.name for role in auth.store.list_user_roles(user.id))
        return Actor(user.username, bool(user.is_admin), roles)

    def body() -> dict:
        """The parameters exactly as MLflow's handler reads a write: the JSON body (a double-encoded one too)."""
        if "modelguard_body" not in g:
            try:
                found = _get_normalized_request_json(request)
            except Exception:  # noqa: BLE001 - not JSON: the handler refuses it too
                found = None
            g.modelguard_body = found if isinstance(found, dict) else None
        return g.modelguard_body

    def param(name: str, default: object = None):
        found = body()
        return default if found is None else found.get(name, default)

    def version_tags(model: str, version: str) -> dict[str, str]:
        try:
            return dict(_get_model_registry_store().get_model_version(model, str(version)).tags)
        except Exception:  # noqa: BLE001 - an unknown version: MLflow's own 404 follows
            return {}

    def refused(sentence: str):
        log.warning("modelguard refused %s %s: %s", request.method, request.path, sentence)
        response = jsonify({"error_code": "PERMISSION_DENIED", "message": sentence})
        response.status_code = 403
        return response

    def route() -> str | None:
        path = request.path
        for suffix in ("model-versions/set-tag", "model-versions/delete-tag", "model-versions/create",
                       "registered-models/alias", "registered-models/set-tag", "registered-models/delete-tag",
                       "registered-models/create", "registered-models/rename"):
            if path.endswith("/mlflow/" + suffix):
                return suffix
        return "policy" if path.endswith(POLICY_ROUTE) else None

    def guard():
        kind = route()
        if kind is None or request.method == "GET" and kind != "policy":
            return None
        who = actor()
        if who is None:
            return None  # not authenticated: basic-auth's 401
        g.modelguard_actor = who
        if kind == "policy":
            model = request.args.get("name", "")
            rules = policies(model)
            return jsonify({"app": APP_NAME, "model": model, "user": who.name, "approvers": rules.approvers,
                            "four_eyes": rules.four_eyes, "pipeline_user": rules.pipeline_user,
                            "may_approve": may_approve(who, rules)})
        if body() is None or request.args:
            # basic-auth's checks read the query string of a non-JSON DELETE, the handler reads the body: a write
            # whose two readings could differ is refused, not guessed at
            return refused("a registry write must carry its parameters as one JSON object in the body, and none "
                           "in the query string")
        model = str(param("name", ""))
        rules = policies(model)
        if kind == "registered-models/rename":
            new = str(param("new_name", ""))
            configured = set(policies.names())
            return refused(f"{model} cannot be renamed to {new}: modelguard's approval rules are kept by model name") \
                if {model, new} & configured else None
        if kind in ("model-versions/set-tag", "model-versions/delete-tag"):
            version = str(param("version", ""))
            value = param("value") if kind.endswith("set-tag") else None
            why = refusal_for_version_tag(who, rules, model, version, str(param("key", "")),
                                          None if value is None else str(value), version_tags(model, version))
        elif kind in ("model-versions/create", "registered-models/create"):
            why = None
            for tag in param("tags", []) or []:
                key, value = str(tag.get("key", "")), str(tag.get("value", ""))
                why = (refusal_for_version_tag(who, rules, model, "(new)", key, value, {})
                       if kind == "model-versions/create" else refusal_for_model_tag(who, rules, model, key))
                if why:
                    break
        elif kind in ("registered-models/set-tag", "registered-models/delete-tag"):
            why = refusal_for_model_tag(who, rules, model, str(param("key", "")))
        else:  # registered-models/alias: POST moves, DELETE deletes
            version = str(param("version")) if request.method == "POST" else None
            why = refusal_for_alias(who, rules, model, str(param("alias", "")), version,
                                    version_tags(model, version) if version else {})
        return refused(why) if why else None

    def stamp():
        """Runs after basic-auth allowed the write: the author goes in before the verdict it vouches for."""
        who, kind = g.get("modelguard_actor"), route()
        if who is None or kind not in ("model-versions/set-tag", "registered-models/alias") \
                or request.method != "POST":
            return None
        store, model = _get_model_registry_store(), str(param("name", ""))
        if kind == "model-versions/set-tag" and param("key") == "approval" and param("value") in VERDICT_STAMPS:
            by, at = VERDICT_STAMPS[param("value")]
            version = str(param("version"))
            store.set_model_version_tag(model, version, ModelVersionTag(by, who.name))
            store.set_model_version_tag(model, version, ModelVersionTag(at, now()))
        elif kind == "registered-models/alias" and param("alias") == CHAMPION:
            try:
                before = store.get_model_version_by_alias(model, CHAMPION).version
            except Exception:  # noqa: BLE001 - no champion yet
                before = ""
            for key, value in zip(CHAMPION_MOVE_STAMP, (who.name, now(), str(param("version")), str(before)),
                                  strict=True):
                store.set_registered_model_tag(model, RegisteredModelTag(key, value))
        return None

    def stamp_registration(response):
        who = g.get("modelguard_actor")
        if who is None or route() != "model-versions/create" or response.status_code != 200:
            return response
        created = (response.get_json(silent=True) or {}).get("model_version") or {}
        if created.get("version"):
            store, when = _get_model_registry_store(), now()
            stamps = dict(zip(REGISTERED_STAMP, (who.name, when), strict=True))
            tags = {t.get("key"): t.get("value") for t in created.get("tags") or []}
            if tags.get("approval") == "pending":
                stamps.update(zip(VERDICT_STAMPS["pending"], (who.name, when), strict=True))
            for key, value in stamps.items():
                store.set_model_version_tag(created["name"], str(created["version"]), ModelVersionTag(key, value))
        return response

    # The guard runs first (it answers the policy route, which basic-auth's fail-closed rule would refuse), and
    # it is a 403 either way; the stamps run last, only for writes basic-auth let through.
    app.before_request_funcs.setdefault(None, []).insert(0, guard)
    app.before_request(stamp)
    app.after_request(stamp_registration)
    return served

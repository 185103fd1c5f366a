"""Promotion and rollback: the only code that moves the `champion` alias.

An alias move touches several registry entries, which MLflow cannot change atomically. So the
intent is written first (registered-model tag `pending_alias_move`), the aliases are moved with
`champion` always pointing at a complete version, and the intent is deleted last. A run that finds
an intent left behind (server died mid-way) completes it before doing anything else. Each run holds the
alias lock (`alias_lock`) from its first read of the aliases to its decision line, so two moves (or a move
and a new challenger) never interleave, and each alias write is a compare-and-set.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import uuid

from modelguard import alias_lock, decisions
from modelguard.approval import IDENTITY_TAG, OS_USER, Unverified, evidence, verdict_of
from modelguard.config import PipelineConfig
from modelguard.registry import (
    CHALLENGER,
    CHAMPION,
    PENDING_MOVE_TAG,
    PREVIOUS_CHAMPION,
    Registry,
    initial_champion,
)
from modelguard.storage import Lake

PROMOTE_DAG_ID = "modelguard_promote"
# Version tags that mark a person's registry action as handled, so it is acted on (and logged) once.
APPROVAL_REFUSED_TAG = "approval_refused"
REJECTION_LOGGED_TAG = "rejection_logged"
ROLLBACK_DAG_ID = "modelguard_rollback"
# A request that can no longer be promoted (a newer challenger took the alias, or the champion it was compared
# with no longer serves): `approval=superseded`, and these two tags, which stay when a person approves it later.
SUPERSEDED_TAG, SUPERSEDED_WHY_TAG = "superseded_on", "superseded_because"
OPEN_REQUESTS = ("pending", "evaluating", "approved")


class PromotionRefused(RuntimeError):
    """A gate failed: the version is unknown, does not load, or did not pass its comparison."""


class AliasMoveInProgress(RuntimeError):
    """Another mover's intent is younger than its lease: fail now, the task's retry looks again."""


# Whose is an intent? Its mover's host and pid. On this host a live pid means the move is still running
# (a CLI beside the DAG); on another host, an intent younger than the lease is assumed to be running.
INTENT_LEASE = dt.timedelta(minutes=10)


def _owner() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _still_running(move: dict, now: dt.datetime) -> bool:
    owner = move.get("owner") or {}
    if owner.get("host") == socket.gethostname():
        if owner.get("pid") == os.getpid():
            return False  # ours: an earlier attempt in this very process failed half-way
        try:
            os.kill(int(owner["pid"]), 0)
        except (ProcessLookupError, KeyError, ValueError, TypeError):
            return False
        except PermissionError:
            return True
        return True
    started = dt.datetime.fromisoformat(move["at"]) if move.get("at") else None
    return started is not None and now - started < INTENT_LEASE


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _move_id(kind: str, to_version: str, from_version: str | None) -> str:
    """A move's identity in the log: from -> to, and a fresh id, so a move repeated on one day is a new line."""
    return f"{kind}:v{from_version}->v{to_version}:{uuid.uuid4().hex[:8]}"


def _move(registry: Registry, kind: str, to_version: str, from_version: str | None, batch_id: str, by: str,
          move_id: str | None = None, forced_by: str | None = None) -> str:
    """Apply a promotion or a rollback (idempotent steps, in an order that never loses champion); returns the
    move's id (the intent's: a repair that completes an intent logs it under the same id). The caller holds
    the alias lock, and every write is a compare-and-set."""
    lock = alias_lock.held()
    move_id = move_id or _move_id(kind, to_version, from_version)
    lock.set_intent({"kind": kind, "to": to_version, "from": from_version,
                     "batch_id": batch_id, "by": by, "at": _now(), "owner": _owner(),
                     "id": move_id, **({"forced_by": forced_by} if forced_by else {})})
    stamp = {"promoted_on" if kind == "promote" else "restored_on": batch_id,
             "promoted_by" if kind == "promote" else "restored_by": by, f"{kind}d_at": _now()}
    registry.set_tags(to_version, stamp)
    if kind == "promote":
        # No `approval` write: only a person (an approver, stamped by the registry server) sets `approved`.
        if from_version and from_version != to_version:
            lock.set(PREVIOUS_CHAMPION, from_version)
        lock.set(CHAMPION, to_version)
        if registry.aliases().get(CHALLENGER) == to_version:
            lock.delete(CHALLENGER)
    else:
        lock.set(CHAMPION, to_version)
        if from_version and from_version != to_version:
            registry.set_tags(from_version, {"rolled_back_on": batch_id, "approval": "rolled_back"})
        if registry.aliases().get(PREVIOUS_CHAMPION) == to_version:
            lock.delete(PREVIOUS_CHAMPION)
    # The intent stays until the caller has logged the move (`_logged`): a crash in between leaves it, and the
    # retry's repair completes the move again (a no-op) and logs it under the same move_id.
    return move_id


def _logged(line: dict) -> dict:
    """The move's decision line is in the log: only now is its intent done with."""
    alias_lock.held().clear_intent()
    return line


@alias_lock.serialised("repair")
def repair(config: PipelineConfig, now: dt.datetime | None = None) -> dict | None:
    """Complete an alias move that an earlier run left half-done, or discard it if the registry has moved
    on since (a person moved `champion` in the UI). Returns what was repaired or discarded."""
    registry = Registry(config)
    aliases = registry.aliases()
    if not aliases:  # no registered model (or no alias) yet: nothing to repair
        return None
    pending = registry.model_tags().get(PENDING_MOVE_TAG)
    if not pending:
        return None
    move = json.loads(pending)
    # An intent written under the alias lock (it carries an `id`) and found by a holder of that lock was left by a
    # holder that is gone (the kernel freed its lock): no lease to wait out. Older intents keep the lease.
    if not move.get("id") and _still_running(move, now or dt.datetime.now(dt.UTC)):
        raise AliasMoveInProgress(f"an alias move to v{move['to']} by {move['by']} started at {move['at']} "
                                  f"({move.get('owner')}) is still running; the retry looks again")
    champion = aliases.get(CHAMPION)
    if champion not in (move["from"], move["to"]):
        # Nothing of this intent explains today's champion: someone moved it since. Their move stands.
        alias_lock.held().clear_intent()
        decisions.record(Lake(config.storage_root), batch_id=move["batch_id"], dag_id=PROMOTE_DAG_ID,
                         action="no_action", model_version=move["to"], alert="stale_move_discarded",
                         reason=f"an unfinished {move['kind']} to v{move['to']} was discarded: champion is now "
                                f"v{champion}, moved since by someone else")
        return {**move, "discarded": True}
    move_id = _move(registry, move["kind"], move["to"], move["from"], move["batch_id"], move["by"],
                    move.get("id"), move.get("forced_by"))
    # the dead mover may not have logged it (its line comes after the move): the log must explain the alias.
    # Under the same move_id, a line it did write is not written twice.
    lake, dag_id = Lake(config.storage_root), PROMOTE_DAG_ID if move["kind"] == "promote" else ROLLBACK_DAG_ID
    _logged(decisions.record(lake, batch_id=move["batch_id"], dag_id=dag_id, action=move["kind"],
                     model_version=move["to"], by=move["by"], move_id=move_id,
                     **{"previous_champion" if move["kind"] == "promote" else "rolled_back": move["from"]},
                     **({"forced_by": move["forced_by"]} if move.get("forced_by") else {}),
                     reason=f"completed a {move['kind']} to v{move['to']} left half-done by {move['by']}"))
    supersede_requests(lake, registry, move["batch_id"], dag_id, champion=move["to"])
    return move


def _logged_champion(lake: Lake, registry: Registry) -> str | None:
    """The version the decision log says serves: the last promotion or rollback, else the first champion."""
    moves = [e["model_version"] for e in decisions.read_decisions(lake) if e["action"] in ("promote", "rollback")]
    if moves:
        return moves[-1]
    first = initial_champion(registry.versions())
    return first.version if first else None


def _ever_served(version) -> bool:
    tags = version.tags
    return tags.get("trigger") == "init" or "promoted_on" in tags or "rolled_back_on" in tags


def _awaits_promotion(version, auto_promote: bool = False) -> bool:
    """Approved (or, under auto-promote, pending), never served, and not refused already."""
    wanted = version.approval == "approved" or (auto_promote and version.approval == "pending")
    return wanted and not _ever_served(version) and not version.tags.get(APPROVAL_REFUSED_TAG)


def _check_gates(registry: Registry, version: str, force: bool, champion: str | None = None) -> None:
    """Exists and loads; unless forced: passed its comparison, with the champion that serves (`champion`), and
    its request was not superseded since."""
    found = registry.get(version)
    if found is None:
        raise PromotionRefused(f"version {version} of {registry.name!r} does not exist")
    try:
        registry.load(version)
    except Exception as error:  # noqa: BLE001 - any load failure refuses the promotion
        raise PromotionRefused(f"version {version} does not load: {error}") from None
    tags = found.tags
    if force or tags.get("trigger") == "init":
        return
    if tags.get("comparison") not in ("passed", None):
        raise PromotionRefused(f"version {version} did not pass its comparison with the champion; "
                               "promote with force=true to override")
    if tags.get(SUPERSEDED_TAG):
        raise PromotionRefused(f"version {version}'s approval request was superseded on {tags[SUPERSEDED_TAG]} "
                               f"({tags.get(SUPERSEDED_WHY_TAG, 'no reason recorded')}); promote with force=true "
                               "to override")
    compared = tags.get("compared_with")
    if compared and champion and compared != champion:
        raise PromotionRefused(f"version {version} was compared with champion v{compared}, but v{champion} serves "
                               f"now: its comparison says nothing about v{champion}; promote with force=true to "
                               "override")


@alias_lock.serialised("promote", day=True)  # a batch day, refused before the lock
def promote(config: PipelineConfig, batch_id: str, version: str | None = None, force: bool = False,
            by: str = "modelguard") -> dict:
    """Promote `version` (manual), else apply an approval made in the registry, else auto-promote.

    `by`: who asked (for a run with `force`, the Airflow user who triggered it: logged as `forced_by`)."""
    lake = Lake(config.storage_root)
    repaired = repair(config)
    registry = Registry(config)
    champion = registry.by_alias(CHAMPION)
    champion_version = champion.version if champion else None
    forced_by = by if force else None

    if version is None:
        # A person moved `champion` by hand in the MLflow UI (the log says another version serves): record
        # it and keep the one it replaced as the rollback target.
        logged = _logged_champion(lake, registry)
        if champion and logged and champion.version != logged:
            previous = logged
            mover = hand_mover(config, registry, champion.version)
            if config.registry_server and not mover["identity_verified"]:
                # no approver moved it (the pipeline's own account outside a promotion, or no server stamp): the
                # champion the log says serves is put back, and the move is an alert, never a promotion
                alias_lock.held().set(CHAMPION, logged)
                decisions.record(lake, batch_id=batch_id, dag_id=PROMOTE_DAG_ID, action="no_action",
                                 model_version=champion.version, alert="unauthorised_champion_move", **mover,
                                 reason=f"champion was moved to v{champion.version} by {mover['moved_by']}, who "
                                        f"is not an approver: v{logged} serves again")
                return {"batch_id": batch_id, "status": "undid_unauthorised_move", "version": logged,
                        "moved_to": champion.version}
            registry.set_tags(champion.version, {"promoted_on": batch_id, "promoted_by": mover["moved_by"]})
            if previous and previous != champion.version:
                alias_lock.held().set(PREVIOUS_CHAMPION, previous)
            decisions.record(lake, batch_id=batch_id, dag_id=PROMOTE_DAG_ID, action="promote",
                             model_version=champion.version,
                             reason=f"champion alias moved by hand in the registry by {mover['moved_by']}"
                                    + ("" if mover["identity_verified"] else " (identity not verified)"),
                             by=mover["moved_by"], previous_champion=previous, **mover,
                             evidence=evidence(champion.tags),
                             move_id=_move_id("promote", champion.version, previous))
            supersede_requests(lake, registry, batch_id, PROMOTE_DAG_ID, champion=champion.version)
            return {"batch_id": batch_id, "status": "recorded_manual_move", "version": champion.version}
        if _rollback_asked(lake, batch_id, champion_version):
            # Today's assessment asks to roll the serving champion back: restore the stable model first. An
            # approval compared with the champion being rolled back is superseded by the rollback.
            return {"batch_id": batch_id, "status": "held_for_rollback", "repaired": repaired}
        rejected = _record_rejections(config, lake, registry, batch_id)
        _expire_pending(lake, registry, batch_id, config.policy.approval_ttl_days)
        # Requests about another champion than the one serving can no longer be promoted (caught here too when
        # the champion moved without a promote run); approvals of superseded versions are refused once.
        if champion_version:
            supersede_requests(lake, registry, batch_id, PROMOTE_DAG_ID, champion=champion_version)
        refused = _refuse_superseded_approvals(lake, registry, batch_id, champion_version)
        approved = [v for v in registry.versions() if v.version != champion_version
                    and _awaits_promotion(v, auto_promote=config.policy.auto_promote)]
        if not approved:
            return {"batch_id": batch_id, "status": "refused" if refused else "nothing_approved",
                    "repaired": repaired, "rejected": rejected, **({"refused": refused} if refused else {})}
        candidate = approved[-1]  # the newest approved version
        version = candidate.version
        audit = {"evidence": evidence(candidate.tags)}
        try:
            if candidate.approval == "approved":
                verdict = verdict_of(candidate.tags, "approved", server=config.registry_server,
                                     policy=registry.approval_policy(), four_eyes=config.approval.four_eyes)
                by, audit = verdict.by, {**audit, **verdict.fields("approved")}
            else:
                by = "policy.auto_promote"
            _check_gates(registry, version, force, champion_version)
        except (PromotionRefused, Unverified) as refusal:
            _refuse(lake, registry, batch_id, version, candidate.tags.get("approved_by", "unknown"), refusal,
                    **audit)
            return {"batch_id": batch_id, "status": "refused", "version": version, "reason": str(refusal)}

    else:  # a version picked by hand (the DAG's Param, a CLI): who asked is the Airflow login that triggered it
        named = registry.get(version)
        audit = {"evidence": evidence(named.tags if named else {}), "promoted_by_hand": by,
                 "identity": "the Airflow login that triggered the run (needs permission to trigger the DAG)"}
    version = str(version)
    if version == champion_version:
        return {"batch_id": batch_id, "status": "already_champion", "version": version}
    _check_gates(registry, version, force, champion_version)
    move_id = _move(registry, "promote", version, champion_version, batch_id, by, forced_by=forced_by)
    unverified = audit.get("identity_verified") is False
    _logged(decisions.record(lake, batch_id=batch_id, dag_id=PROMOTE_DAG_ID, action="promote", model_version=version,
                             reason=f"v{version} replaces v{champion_version} as champion ("
                                    + ("promoted by hand by " if "promoted_by_hand" in audit else "approved by ")
                                    + by + (", identity not verified)" if unverified else ")")
                                    + (f" [forced by {forced_by}]" if force else ""),
                             previous_champion=champion_version, by=by, move_id=move_id, **audit,
                             **({"forced_by": forced_by} if force else {})))
    superseded = supersede_requests(lake, registry, batch_id, PROMOTE_DAG_ID, champion=version)
    return {"batch_id": batch_id, "status": "promoted", "version": version, "previous": champion_version,
            **({"superseded": superseded} if superseded else {})}


def _rollback_asked(lake: Lake, batch_id: str, champion: str | None) -> bool:
    """The day's assessment asks the rollback DAG to replace `champion` (not yet done)."""
    assessment = lake.read_json(lake.report_dir(batch_id) / "assessment.json", {}) or {}
    return bool(assessment.get("rollback")) and (assessment.get("aliases") or {}).get(CHAMPION) == champion


def _refuse(lake: Lake, registry: Registry, batch_id: str, version: str, by: str, refusal: Exception,
            **audit) -> None:
    """An approval that cannot be honoured is refused once, in the log; it is not retried every day."""
    decisions.record(lake, batch_id=batch_id, dag_id=PROMOTE_DAG_ID, action="no_action",
                     model_version=version, reason=f"approval of v{version} by {by} refused: {refusal}",
                     alert="approval_refused", by=by, **audit)
    registry.set_tags(version, {APPROVAL_REFUSED_TAG: str(refusal)})  # after the line: a crash retries both


def _refuse_superseded_approvals(lake: Lake, registry: Registry, batch_id: str, champion: str | None) -> list[str]:
    """A person approved a version whose request was superseded (the MLflow UI lets them overwrite the tag):
    one refusal each, never a promotion."""
    refused = []
    for version in registry.versions():
        if version.version == champion or not version.tags.get(SUPERSEDED_TAG) or not _awaits_promotion(version):
            continue
        by = version.tags.get("approved_by", "unknown")
        try:
            _check_gates(registry, version.version, False, champion)
        except PromotionRefused as refusal:
            _refuse(lake, registry, batch_id, version.version, by, refusal, evidence=evidence(version.tags),
                    approved_at=version.tags.get("approved_at"))
            refused.append(version.version)
    return refused


def supersede_requests(lake: Lake, registry: Registry, batch_id: str, dag_id: str, *, champion: str | None = None,
                       challenger: str | None = None) -> list[str]:
    """Open requests (`pending`, `evaluating`, or `approved` and not served) that can no longer be promoted become
    `approval=superseded`, with one `no_action` line each (`alert: approval_superseded`, notified):
    with `challenger`, every unanswered one (`pending`, `evaluating`) older than the new challenger; with `champion`,
    every one compared with another champion than `champion` (the one that serves now)."""
    superseded = []
    for version in registry.versions():
        tags, number = version.tags, version.version
        if version.approval not in OPEN_REQUESTS or tags.get(SUPERSEDED_TAG) or tags.get(APPROVAL_REFUSED_TAG) \
                or _ever_served(version) or number in (champion, challenger):
            continue
        if challenger is not None and int(number) < int(challenger) and version.approval != "approved":
            # A request a person has answered `approved` is theirs: it stays promotable while the champion it
            # was compared with serves (the watcher promotes it within a minute); a newer challenger replaces
            # only the questions still open.
            why = f"newer challenger v{challenger} took the challenger alias"
        elif champion is not None and tags.get("compared_with") not in (None, champion):
            why = f"it was compared with champion v{tags['compared_with']}, and v{champion} serves now"
        else:
            continue
        # the line first: a crash before the tag supersedes (and logs) it again on the retry, never silently
        decisions.record(lake, batch_id=batch_id, dag_id=dag_id, action="no_action", model_version=number,
                         alert="approval_superseded", superseded_by=f"v{challenger or champion}",
                         reason=f"approval request for v{number} ({version.approval}) superseded: {why}; it can no "
                                "longer be promoted (an approval of it is refused)")
        registry.set_tags(number, {"approval": "superseded", SUPERSEDED_TAG: batch_id, SUPERSEDED_WHY_TAG: why})
        superseded.append(number)
    return superseded


def _expire_pending(lake: Lake, registry: Registry, batch_id: str, ttl_days: int) -> list[str]:
    """Pending approvals older than the TTL expire: tagged, logged once, never promoted afterwards."""
    expired = []
    for version in registry.versions():
        if version.approval_expired(batch_id, ttl_days):
            registry.set_tags(version.version, {"approval": "expired"})
            decisions.record(lake, batch_id=batch_id, dag_id=PROMOTE_DAG_ID, action="no_action",
                             model_version=version.version, alert="approval_expired",
                             requested_by=version.tags.get("approval_requested_by"),
                             requested_at=version.tags.get("approval_requested_at"), evidence=evidence(version.tags),
                             reason=f"approval request for v{version.version} (trained on "
                                    f"{version.tags.get('trained_on')}) expired after {ttl_days} days unanswered")
            expired.append(version.version)
    return expired


def _record_rejections(config: PipelineConfig, lake: Lake, registry: Registry, batch_id: str) -> list[str]:
    """Log, once each, the requested approvals a person rejected in the registry (`approval=rejected`).

    A rejection also frees the policy's hold on retraining (a challenger is only pending while `pending`).
    """
    requested = {e["model_version"] for e in decisions.read_decisions(lake) if e["action"] == "request_approval"}
    logged = []
    for version in registry.versions():
        if version.version not in requested or version.approval != "rejected" or version.tags.get(REJECTION_LOGGED_TAG) \
                or version.tags.get("rolled_back_on"):  # rejected by a rollback, which the log already says
            continue
        try:
            verdict = verdict_of(version.tags, "rejected", server=config.registry_server,
                                 policy=registry.approval_policy())
            by, audit = verdict.by, verdict.fields("rejected")
        except Unverified as why:  # still a rejection (it never promotes), logged with why no one vouches for it
            by, audit = "unknown", {"rejected_by": None, "identity_verified": False, "identity": str(why)}
        decisions.record(lake, batch_id=batch_id, dag_id=PROMOTE_DAG_ID, action="no_action",
                         model_version=version.version, reason=f"approval of v{version.version} rejected by {by}",
                         alert="approval_rejected", by=by, **audit, evidence=evidence(version.tags))
        registry.set_tags(version.version, {REJECTION_LOGGED_TAG: batch_id})
        logged.append(version.version)
    return logged


def registry_requests(config: PipelineConfig) -> list[dict]:
    """What a person did in the registry that the promote DAG has not acted on yet (polled by the triggerer):
    an approved version not yet promoted or refused, a rejection of a requested version not yet logged, or
    the champion alias moved by hand."""
    lake = Lake(config.storage_root)
    registry = Registry(config)
    aliases = registry.aliases()
    if not aliases:
        return []
    champion_version = aliases.get(CHAMPION)
    requested = {e["model_version"] for e in decisions.read_decisions(lake) if e["action"] == "request_approval"}
    found = []
    logged = _logged_champion(lake, registry)
    for version in registry.versions():
        tags = version.tags
        if version.version == champion_version:
            if logged and version.version != logged:
                found.append({"version": version.version, "request": "champion_moved"})
        elif _awaits_promotion(version):
            found.append({"version": version.version, "request": "approved"})
        elif version.approval == "rejected" and version.version in requested and not tags.get(REJECTION_LOGGED_TAG) \
                and not tags.get("rolled_back_on"):
            found.append({"version": version.version, "request": "rejected"})
    return found


@alias_lock.serialised("rollback", day=True)  # a batch day, refused before the lock
def rollback(config: PipelineConfig, batch_id: str, version: str | None = None, by: str = "modelguard") -> dict:
    """Restore `version` (manual) or, if today's assessment asks for it, the version its guardrail found
    better (`previous_champion`, or an earlier champion when the concept went back further)."""
    lake = Lake(config.storage_root)
    repair(config)
    registry = Registry(config)
    champion = registry.by_alias(CHAMPION)
    reason = f"manual rollback by {by}"
    if version is None:
        assessment = lake.read_json(lake.report_dir(batch_id) / "assessment.json", {}) or {}
        if not assessment.get("rollback"):
            return {"batch_id": batch_id, "status": "not_needed"}
        named = assessment.get("aliases") or {}  # the versions the day's assessment was about
        if named.get(CHAMPION) and champion and champion.version != named[CHAMPION]:
            decisions.record(lake, batch_id=batch_id, dag_id=ROLLBACK_DAG_ID, action="no_action",
                             model_version=named[CHAMPION], alert="rollback_superseded",
                             reason=f"the rollback of v{named[CHAMPION]} asked on {batch_id} no longer applies: "
                                    f"champion is now v{champion.version}")
            return {"batch_id": batch_id, "status": "superseded", "version": champion.version}
        target = (assessment.get("state") or {}).get("rollback_to") or named.get(PREVIOUS_CHAMPION)
        previous = registry.get(target) if target else registry.by_alias(PREVIOUS_CHAMPION)
        if previous is None:
            return {"batch_id": batch_id, "status": "no_previous_champion"}
        version = previous.version
        reason = next(a["reason"] for a in assessment["actions"] if a["action"] == "rollback")
    version = str(version)
    if champion and version == champion.version:
        return {"batch_id": batch_id, "status": "already_champion", "version": version}
    _check_gates(registry, version, force=True)
    move_id = _move(registry, "rollback", version, champion.version if champion else None, batch_id, by)
    _logged(decisions.record(lake, batch_id=batch_id, dag_id=ROLLBACK_DAG_ID, action="rollback", model_version=version,
                             reason=reason, rolled_back=champion.version if champion else None, by=by,
                             move_id=move_id))
    supersede_requests(lake, registry, batch_id, ROLLBACK_DAG_ID, champion=version)
    return {"batch_id": batch_id, "status": "rolled_back", "version": version,
            "rolled_back": champion.version if champion else None}


def approve(config: PipelineConfig, version: str, by: str | None = None) -> dict:
    """What a person does in the MLflow UI: tag the version `approval=approved`.

    On a registry server the login (`MLFLOW_TRACKING_USERNAME`) is who approves: the server stamps it, and refuses
    anyone not in `approval.approvers`. On the embedded store there is no login: `by` (default: the OS user) is
    recorded, marked unverified."""
    registry = Registry(config)
    if registry.get(version) is None:
        raise PromotionRefused(f"version {version} of {registry.name!r} does not exist")
    if config.registry_server:
        registry.set_tags(version, {"approval": "approved"})
        stamped = registry.get(version).tags
        return {"version": str(version), "approval": "approved", "by": stamped.get("approved_by"),
                "at": stamped.get("approved_at")}
    by = by or getpass.getuser()
    registry.set_tags(version, {"approved_by": by, "approved_at": _now(), IDENTITY_TAG: OS_USER,
                                "approval": "approved"})
    return {"version": str(version), "approval": "approved", "by": by, "identity_verified": False}


def hand_mover(config: PipelineConfig, registry: Registry, champion: str) -> dict:
    """Who moved `champion` to `champion` by hand: the registry server's stamp, else unknown (unverified)."""
    tags = registry.model_tags()
    if config.registry_server and tags.get("champion_moved_to") == champion and tags.get("champion_moved_by"):
        # the server lets only approvers and the pipeline move it; the pipeline moves it only in a promotion
        # or rollback, which its own line explains (never a hand move)
        return {"moved_by": tags["champion_moved_by"], "moved_at": tags.get("champion_moved_at"),
                "identity_verified": tags["champion_moved_by"] != config.approval.pipeline_user}
    return {"moved_by": "unknown (champion alias moved in the registry)", "moved_at": None,
            "identity_verified": False}


def approve_requested(config: PipelineConfig, before: str, by: str) -> list[str]:
    """Approve every version still pending whose approval was requested before day `before`
    (what the demo's simulated engineer does; a person does it in the MLflow UI)."""
    lake = Lake(config.storage_root)
    requested = {e["model_version"] for e in decisions.read_decisions(lake)
                 if e["action"] == "request_approval" and e["batch_id"] < before}
    registry = Registry(config)
    approved = []
    for version in sorted(requested, key=int):
        found = registry.get(version)
        if found is not None and found.approval == "pending":
            approve(config, version, by=by)
            approved.append(version)
    return approved

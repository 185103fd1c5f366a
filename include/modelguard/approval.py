"""Who approved a version, and whether anyone proved it: what promote acts on, and what the audit trail records.

Where the registry is an MLflow server running `--app-name modelguard` (`registry_server`), the server stamps the
authenticated login on every approval and rejection (`approved_by` / `approved_at`, `rejected_by` / ...), no client
can write those tags, and only `approval.approvers` may set the verdict. promote then acts only on a stamped
approval, from a server that says it stamps (its approval-policy route). With the embedded SQLite store there is
no server and no login: an approval records the OS user who ran `modelguard approve`, marked unverified.

Pure: tags and the server's policy in, a `Verdict` (or `Unverified`) out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from modelguard.registry_server import APP_NAME, VERDICT_STAMPS

# Set by `modelguard approve` on the embedded store (no server): whose word the approval is.
IDENTITY_TAG = "approval_identity"
OS_USER = "os-user (unverified: embedded registry, no login)"


class Unverified(RuntimeError):
    """A verdict no server vouches for, where one should."""


@dataclass(frozen=True)
class Verdict:
    """A person's approval or rejection as the registry records it."""

    by: str
    at: str | None
    verified: bool  # the registry server authenticated `by` and stamped it
    identity: str  # how `by` is known

    def fields(self, verdict: str) -> dict:
        """The decision line's fields for it (`approved_by`, `approved_at`, `identity_verified`, `identity`)."""
        by, at = VERDICT_STAMPS[verdict]
        return {by: self.by, at: self.at, "identity_verified": self.verified, "identity": self.identity}


def verdict_of(tags: dict[str, str], verdict: str, *, server: bool, policy: dict | None,
               four_eyes: bool = True) -> Verdict:
    """Who gave `verdict` (`approved` / `rejected`) on a version with `tags`.

    `server`: the registry is an MLflow server; `policy`: its approval-policy answer (None: it has no such route,
    so it does not stamp). Raises `Unverified` when a server should vouch and does not."""
    by_key, at_key = VERDICT_STAMPS[verdict]
    by, at = tags.get(by_key), tags.get(at_key)
    if not server:
        return Verdict(by or "unknown (tag set directly)", at, False,
                       tags.get(IDENTITY_TAG) or "registry tag (unverified: embedded registry, no login)")
    if not policy or policy.get("app") != APP_NAME:
        raise Unverified(f"the registry server does not stamp who {verdict} (start it with `mlflow server "
                         f"--app-name {APP_NAME}`): the {verdict} tag cannot be attributed to anyone")
    if not by or not at:
        raise Unverified(f"the {verdict} tag carries no server stamp ({by_key}, {at_key}): it was not written "
                         "through the registry server's rules")
    if by == policy.get("pipeline_user"):
        raise Unverified(f"the pipeline's own account {by} cannot {verdict.removesuffix('d')}")
    requested = tags.get("approval_requested_at")
    if verdict == "approved" and requested and at < requested:
        raise Unverified(f"the approval stamped {at} is older than the request of {requested}: it answered an "
                         "earlier request")
    if verdict == "approved" and four_eyes and policy.get("four_eyes", True):
        for key in ("registered_by", "approval_requested_by"):
            if tags.get(key) == by:
                raise Unverified(f"four eyes: {by} is the {key.removesuffix('_by').replace('_', ' ')} account")
    return Verdict(by, at, True, "mlflow login (stamped by the registry server)")


def evidence(tags: dict[str, str]) -> dict:
    """What the person saw on the request: the comparison, the repair verdict, and the checklist of the day."""
    detail = tags.get("comparison_detail")
    try:
        comparison = json.loads(detail) if detail else None
    except ValueError:
        comparison = detail
    requested_on = tags.get("requested_on") or tags.get("trained_on")
    return {"compared_with": tags.get("compared_with"), "comparison": tags.get("comparison"),
            "comparison_detail": comparison, "repairs": tags.get("repairs"), "requested_on": requested_on,
            "checklist": f"reports/{requested_on}/checklist.md" if requested_on else None}


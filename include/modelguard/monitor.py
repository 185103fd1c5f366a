"""Monitor stage: the day's assessment. The policy engine decides on the day's state; its alerts go to the
decision log, and `reports/<batch_id>/assessment.json` holds the state it saw and the actions it chose,
which the challenge and rollback DAGs act on.

The stage's other jobs each have their module: drift (`modelguard.drift`), realized performance
(`modelguard.performance`), the policy's state (`modelguard.policy_state`), health and the checklist
(`modelguard.health`).
"""

from __future__ import annotations

from modelguard import decisions
from modelguard.config import PipelineConfig
from modelguard.health import health_evidence, record_health
from modelguard.policy import decide
from modelguard.policy_state import build_state
from modelguard.registry import Registry
from modelguard.storage import Lake

DAG_ID = "modelguard_monitor"


def assess(config: PipelineConfig, batch_id: str) -> dict:
    """Run the policy on today's state; log alerts; write the assessment the other DAGs act on."""
    lake = Lake(config.storage_root)
    state = build_state(config, batch_id)
    actions = decide(state, config)
    for action in actions:
        if action.action in ("drift_alert", "performance_alert", "no_action"):
            decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action=action.action, reason=action.reason,
                             model_version=state.champion_version, evidence=action.evidence, alert=action.alert)
    assessment = {
        "batch_id": batch_id,
        "state": {**state.__dict__, "guardrail": state.guardrail.to_dict() if state.guardrail else None},
        "actions": [a.__dict__ for a in actions],
        "retrain": next((a.evidence["trigger"] for a in actions if a.action == "retrain"), None),
        "rollback": any(a.action == "rollback" for a in actions),
        # what the day's decisions are about: a rerun of the day acts on these versions, not on today's
        "aliases": Registry(config).aliases(),
    }
    evidence = health_evidence(config, batch_id, state, actions)
    checklist = record_health(config, batch_id, evidence, lake.read_json(lake.report_dir(batch_id) / "drift.json", {}) or {})
    assessment["estimated"] = evidence.get("estimated_metrics")
    assessment["worst_segments"] = evidence["worst_segments"]
    assessment["recommended_response"] = checklist["recommended_response"]
    lake.write_json(assessment, lake.report_dir(batch_id) / "assessment.json")
    return {"batch_id": batch_id, "actions": [a.action for a in actions], "retrain": assessment["retrain"],
            "rollback": assessment["rollback"], "recommended_response": checklist["recommended_response"]}

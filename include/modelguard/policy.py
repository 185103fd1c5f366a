"""The policy engine: one pure function from what we know today to what the pipeline should do.

`decide(state, config)` returns the day's actions. Alerts go to the decision log; `retrain` asks
the challenge DAG for a challenger; `rollback` asks the rollback DAG to restore the previous
champion. Rules, in the field guide's spirit:
- a data incident (quarantined or missing batch) never triggers retraining: fix the data first;
- covariate drift alone alerts, and triggers a retrain only when it persists; a challenger that
  does not beat the champion on later labelled rows is never promoted, so drift alone cannot
  promote;
- a realized performance drop (concept drift) alerts and triggers retraining;
- cooldown: no retraining within `cooldown_days` of the last, nor while a challenger awaits approval;
- a promotion that proves worse than the previous champion on the same rows is rolled back, if the
  previous champion is healthy on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelguard.compare import Comparison
from modelguard.config import PipelineConfig
from modelguard.decisions import USABLE


@dataclass(frozen=True)
class State:
    batch_id: str
    batch_status: str  # decisions.batch_status: accepted | released | quarantined | missing | unknown
    drifted_features: tuple[str, ...] = ()
    drift_streak: int = 0  # consecutive accepted days, up to today, with drifted features
    positive_rate: float | None = None
    reference_positive_rate: float | None = None
    champion_version: str | None = None
    champion_metric: float | None = None  # realized, pooled over the last labelled days
    champion_baseline: float | None = None  # the same metric on the champion's own holdout
    guardrail: Comparison | None = None  # previous champion (candidate) vs champion, post-promotion rows
    previous_champion_baseline: float | None = None  # the previous champion's metric on its own holdout
    challenger_pending: bool = False
    days_since_retrain: int | None = None
    days_since_challenger: int | None = None  # since the last challenger was trained, any trigger


@dataclass(frozen=True)
class Action:
    action: str  # drift_alert | performance_alert | retrain | rollback | no_action
    reason: str
    evidence: dict = field(default_factory=dict)
    alert: str | None = None  # which alert, when one action has several kinds (the log tells them apart)


def decide(state: State, config: PipelineConfig) -> list[Action]:
    policy, drift = config.policy, config.drift
    actions: list[Action] = []
    if state.batch_status not in USABLE:
        actions.append(Action("no_action", f"batch {state.batch_status}: a data incident, not a model problem; "
                                           "no scoring, drift or retraining on it"))
        # Performance of earlier labelled days and the rollback guardrail still count.

    performance_drop = None
    if state.champion_metric is not None and state.champion_baseline is not None:
        performance_drop = state.champion_baseline - state.champion_metric
        if performance_drop > policy.max_metric_drop:
            actions.append(Action(
                "performance_alert",
                f"champion v{state.champion_version} {config.challenger.metric} {state.champion_metric:.3f} is "
                f"{performance_drop:.3f} below its baseline {state.champion_baseline:.3f}",
                {"realized": state.champion_metric, "baseline": state.champion_baseline, "drop": performance_drop},
            ))

    if state.batch_status in USABLE:
        if len(state.drifted_features) >= drift.min_drifted_features:
            actions.append(Action("drift_alert", f"{len(state.drifted_features)} features drifted: "
                                                 f"{', '.join(state.drifted_features[:6])}",
                                  {"drifted_features": list(state.drifted_features), "streak": state.drift_streak},
                                  alert="feature_drift"))
        rate, ref = state.positive_rate, state.reference_positive_rate
        if rate is not None and ref and (rate > ref * drift.positive_rate_factor or rate < ref / drift.positive_rate_factor):
            actions.append(Action("drift_alert", f"predicted positive rate {rate:.2%} against {ref:.2%} in reference",
                                  {"positive_rate": rate, "reference_positive_rate": ref, "output_anomaly": True},
                                  alert="output_anomaly"))

    guardrail = state.guardrail
    # Roll back only to a model that is healthy now: under concept drift both may fail, and
    # swapping one failing model for another fixes nothing (retraining does).
    previous_healthy = state.previous_champion_baseline is None or (
        guardrail is not None and guardrail.candidate >= state.previous_champion_baseline - policy.max_metric_drop)
    if guardrail is not None and guardrail.wins_by(policy.rollback_margin) and previous_healthy:
        actions.append(Action(
            "rollback",
            f"since its promotion, champion v{state.champion_version} scores {guardrail.baseline:.3f} against "
            f"{guardrail.candidate:.3f} for the previous champion on the same rows",
            {"comparison": guardrail.to_dict()},
        ))
        return actions  # no retraining on the day of a rollback: first restore the stable model

    trigger = _retrain_trigger(state, config, performance_drop)
    if trigger:
        actions.append(Action("retrain", trigger[1], {"trigger": trigger[0]}))
    if not actions:
        actions.append(Action("no_action", "quiet day: no drift, no performance drop, nothing to promote"))
    return actions


def _retrain_trigger(state: State, config: PipelineConfig, performance_drop: float | None) -> tuple[str, str] | None:
    policy = config.policy
    if state.batch_status not in USABLE or state.challenger_pending:
        return None
    if state.days_since_retrain is not None and state.days_since_retrain < policy.cooldown_days:
        return None
    if performance_drop is not None and performance_drop > policy.max_metric_drop:
        return "performance", "realized performance dropped below the champion's baseline"
    if state.drift_streak >= policy.drift_days_to_retrain:
        return "drift", f"features drifted {state.drift_streak} days in a row"
    if state.days_since_challenger is None or state.days_since_challenger >= config.challenger.every_days:
        return "schedule", f"scheduled challenger cycle (every {config.challenger.every_days} days)"
    return None

"""The policy engine: one pure function from what we know today to what the pipeline should do.

`decide(state, config)` returns the day's actions. Alerts go to the decision log; `retrain` asks
the challenge DAG for a challenger; `rollback` asks the rollback DAG to restore the previous
champion. Rules, in the field guide's spirit:
- a data incident (quarantined or missing batch) never triggers retraining: fix the data first;
- covariate drift alone alerts, and triggers a retrain only when it persists; a challenger that
  does not beat the champion on later labelled rows is never promoted, so drift alone cannot
  promote;
- a realized performance drop (concept drift) alerts and triggers retraining. The drop is measured
  against one bar for the service (`policy.service_baseline`, by default the first champion's reference
  score), not against whichever version serves now: a bad promotion must not lower the bar it is judged by;
- while the drop holds, retraining goes on each day that brings new labels, until a challenger that
  repairs (within `max_metric_drop` of the bar) awaits approval; a partial fix keeps the search going;
- cooldown: no drift- or schedule-triggered retraining within `cooldown_days` of the last real attempt
  (a registered challenger), nor while a challenger awaits approval; the same pace applies to a champion
  that is short of the service baseline but within tolerance (a partial repair): the search goes on, on
  the rows since the onset;
- an undecided challenger (ahead, not yet proven) is re-checked as new labels arrive (anytime-valid test);
- a promotion that proves worse than the previous champion on the same rows is rolled back, if the
  previous champion is healthy on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelguard.compare import Comparison
from modelguard.config import PipelineConfig
from modelguard.decisions import USABLE
from modelguard.task_kinds import shortfall, task_kind


@dataclass(frozen=True)
class State:
    batch_id: str
    batch_status: str  # decisions.batch_status: accepted | released | quarantined | missing | unknown
    drifted_features: tuple[str, ...] = ()
    drift_streak: int = 0  # consecutive days, up to today, with a drift_alert (>= drift.min_drifted_features)
    output: dict | None = None  # the champion's outputs today (task_kinds: e.g. predicted_positive_rate)
    reference_output: dict | None = None  # the same on the reference holdout
    champion_version: str | None = None
    champion_metric: float | None = None  # realized, pooled over the last labelled days
    champion_baseline: float | None = None  # the same metric on the champion's own holdout
    service_baseline: float | None = None  # the level the service needs: drops are measured against it
    guardrail: Comparison | None = None  # previous champion (candidate) vs champion, post-promotion rows
    # what the guardrail's e-value rests on: {"since": day the champion began serving, "units": of evidence
    # since, "candidates": rollback targets the level is split across}
    guardrail_evidence: dict | None = None
    previous_champion_baseline: float | None = None  # the rollback target's metric on its own holdout
    rollback_to: str | None = None  # the version the guardrail compared (previous champion, or an earlier one)
    challenger_pending: bool = False
    challenger_repairs: bool | None = None  # the pending challenger restores the service level (None: not known)
    challenger_evaluating: bool = False  # an undecided challenger, and labels it has not seen yet
    latest_labelled: str | None = None  # the latest labelled day
    onset: str | None = None  # first day of the current run of labelled days below the service bar
    retrained_through: str | None = None  # latest labelled day seen by a challenger trained since the onset
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
    bar = service_bar(state)
    metric = config.challenger.metric
    if state.champion_metric is not None and bar is not None:
        performance_drop = shortfall(state.champion_metric, bar, metric)  # positive: worse, whichever direction
        if performance_drop > policy.max_metric_drop:
            actions.append(Action(
                "performance_alert",
                f"champion v{state.champion_version} {metric} {state.champion_metric:.3f} is "
                f"{performance_drop:.3f} worse than the service baseline {bar:.3f}"
                + (f" (since {state.onset})" if state.onset else ""),
                {"realized": state.champion_metric, "baseline": bar, "drop": performance_drop,
                 "champion_baseline": state.champion_baseline, "onset": state.onset},
            ))

    if state.batch_status in USABLE:
        if len(state.drifted_features) >= drift.min_drifted_features:
            actions.append(Action("drift_alert", f"{len(state.drifted_features)} features drifted: "
                                                 f"{', '.join(state.drifted_features[:6])}",
                                  {"drifted_features": list(state.drifted_features), "streak": state.drift_streak},
                                  alert="feature_drift"))
        anomaly = task_kind(config.model).output_anomaly(state.output, state.reference_output, drift)
        if anomaly:
            actions.append(Action("drift_alert", anomaly, {**(state.output or {}), "output_anomaly": True,
                                                           "reference": state.reference_output},
                                  alert="output_anomaly"))

    guardrail = state.guardrail
    # Roll back only to a model that is healthy now: under concept drift both may fail, and
    # swapping one failing model for another fixes nothing (retraining does).
    previous_healthy = state.previous_champion_baseline is None or (
        guardrail is not None
        and shortfall(guardrail.candidate, state.previous_champion_baseline, metric) <= policy.max_metric_drop)
    if guardrail is not None and guardrail.wins_by(policy.rollback_margin) and previous_healthy:
        actions.append(Action(
            "rollback",
            f"since its promotion, champion v{state.champion_version} scores {guardrail.baseline:.3f} against "
            f"{guardrail.candidate:.3f} for "
            + (f"v{state.rollback_to}" if state.rollback_to else "the previous champion") + " on the same rows"
            + _rollback_evidence(guardrail, state.guardrail_evidence),
            {"comparison": guardrail.to_dict(), "rollback_to": state.rollback_to,
             "guardrail_evidence": state.guardrail_evidence},
        ))
        return actions  # no retraining on the day of a rollback: first restore the stable model

    trigger = _retrain_trigger(state, config, performance_drop, bar)
    if trigger:
        actions.append(Action("retrain", trigger[1], {"trigger": trigger[0]}))
    if not actions:
        actions.append(Action("no_action", _no_action_reason(state, bar, metric)))
    return actions


def _rollback_evidence(guardrail: Comparison, evidence: dict | None) -> str:
    """The anytime-valid evidence of a rollback, in words: the e-value against the bar it crossed."""
    if guardrail.e_value is None:
        return ""
    told = f"; e-value {guardrail.e_value:.3g} >= {1 / guardrail.alpha:.3g}"
    if evidence:
        told += (f" (one e-process over {evidence['units']} units since {evidence['since'] or 'the start'}, "
                 f"alpha split across {evidence['candidates']} rollback candidates)")
    return told


def service_bar(state: State) -> float | None:
    """The level drops are measured against: the service baseline, else (not known) the champion's own."""
    return bar_of(state.service_baseline, state.champion_baseline)


def bar_of(service_baseline: float | None, champion_baseline: float | None) -> float | None:
    return service_baseline if service_baseline is not None else champion_baseline


def _nothing_new(state: State) -> bool:
    """No labelled day since the last challenger trained after the onset: another would learn nothing new."""
    return bool(state.retrained_through and state.latest_labelled and state.retrained_through >= state.latest_labelled)


def _no_action_reason(state: State, bar: float | None, metric: str) -> str:
    """A day without actions is called quiet only when the champion is known to meet the service level."""
    if state.champion_metric is None:
        return (f"no drift; no labelled rows scored by champion v{state.champion_version} yet, so its "
                "performance is not known: nothing to act on")
    if bar is not None and shortfall(state.champion_metric, bar, metric) > 0:
        return (f"no drift; champion v{state.champion_version} {state.champion_metric:.3f} is worse than the "
                f"service baseline {bar:.3f} but within max_metric_drop: watching")
    return "quiet day: no drift, no performance drop, nothing to promote"


def onset_day(days: list[tuple[str, float]], bar: float, tolerance: float, metric: str = "roc_auc") -> str | None:
    """First day of the trailing run of labelled days whose served `metric` is worse than `bar` by more than
    `tolerance` (`days`: (batch_id, value) in day order); None when the latest labelled day meets the bar.
    A day without a value (NaN: one class only) says nothing either way: it neither starts nor breaks the run."""
    onset = None
    for batch_id, value in reversed(days):
        if value != value:
            continue
        if shortfall(value, bar, metric) <= tolerance:
            break
        onset = batch_id
    return onset


def _retrain_trigger(state: State, config: PipelineConfig, performance_drop: float | None, bar: float | None
                     ) -> tuple[str, str] | None:
    policy = config.policy
    if state.batch_status not in USABLE:
        return None
    if performance_drop is not None and performance_drop > policy.max_metric_drop:
        # No cooldown here: each day that brings labels the last attempt has not seen is a chance to repair.
        if state.challenger_pending and state.challenger_repairs is not False:
            return None  # a repair (or a challenger not judged against the bar) awaits a person's approval
        if _nothing_new(state):
            return None
        return "performance", "realized performance fell short of the service baseline" + (
            "; the challenger awaiting approval is only a partial fix" if state.challenger_pending else "")
    if state.challenger_pending:
        return None
    if state.challenger_evaluating:
        return "recheck", "the undecided challenger is re-checked on labels it has not seen"
    if state.days_since_retrain is not None and state.days_since_retrain < policy.cooldown_days:
        return None
    if state.onset and state.champion_metric is not None and bar is not None \
            and shortfall(state.champion_metric, bar, config.challenger.metric) > 0 and not _nothing_new(state):
        # A partial repair holds the alert off but not the search: more rows of the new concept, a better model.
        return "performance", (f"champion {state.champion_metric:.3f} still short of the service baseline {bar:.3f}: "
                               f"a challenger on the rows since the onset {state.onset} may restore it")
    if state.drift_streak >= policy.drift_days_to_retrain:
        return "drift", f"features drifted {state.drift_streak} days in a row"
    if state.days_since_challenger is None or state.days_since_challenger >= config.challenger.every_days:
        return "schedule", f"scheduled challenger cycle (every {config.challenger.every_days} days)"
    return None

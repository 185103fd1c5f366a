"""The policy's state of a day: everything `policy.decide` needs, gathered from the lake and the registry
(the realized metric of the champion, the service bar, the drift onset, the rollback guardrail, the
challenger's standing)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from modelguard import decisions, model
from modelguard.batch_days import is_batch_id
from modelguard.bootstrap import reference_output
from modelguard.compare import Evidence, evidence_units, paired_bootstrap, with_evidence
from modelguard.config import PipelineConfig
from modelguard.performance import (
    labelled_batch_ids,
    offline_scores,
    pool_days,
    scores_of,
    served_metric_by_day,
)
from modelguard.policy import State, bar_of, onset_day
from modelguard.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, Registry, initial_champion
from modelguard.storage import Lake, parse_batch_id
from modelguard.task_kinds import shortfall, task_kind

MAX_ROLLBACK_CANDIDATES = 3  # versions that served before, tried as rollback targets under a drop


def _tenure_start(champion) -> str | None:
    """The day the champion began serving this time: its promotion, or the rollback that restored it (a tag that
    is not a day, e.g. edited by hand in the MLflow UI, is not one: it names a lake file)."""
    days = [champion.tags[tag] for tag in ("promoted_on", "restored_on") if is_batch_id(champion.tags.get(tag))]
    return max(days) if days else None


def _rollback_candidates(champion, previous, versions: list) -> list:
    """What the guardrail may try for this champion: `previous_champion`, then the versions that served before
    (the first champion always: the service level was set by it, then the most recent others)."""
    served = [v for v in reversed(versions) if v.version not in (champion.version, previous and previous.version)
              and (v.tags.get("trigger") == "init" or "promoted_on" in v.tags)]
    served.sort(key=lambda v: v.tags.get("trigger") != "init")
    return ([previous] if previous else []) + served[:MAX_ROLLBACK_CANDIDATES - (1 if previous else 0)]


def _tenure_evidence(lake: Lake, config: PipelineConfig, registry: Registry, champion, since: str | None,
                     candidates: list, tried: list, labelled: list[str], batch_id: str, rows) -> dict:
    """Each candidate's e-process against the champion over the labelled rows it served since `since`, as seen
    by the look of `batch_id`: {version: Evidence}.

    Persisted per tenure (`Lake.guardrail_evidence`) and only ever extended: a look appends, in day order, the
    labelled days the candidate's process has not consumed yet (a late day comes after the days consumed
    before it arrived), so a corrected or retracted day never rewrites earlier evidence, and a recomputation
    from today's lake could not promise that. The candidates are fixed at the tenure's first look (the level
    is split across them). A rerun of a day reads that day's look; a day older than the latest look reads the
    look before it and adds nothing."""
    path = lake.guardrail_evidence(champion.version, since)
    kind, target = task_kind(config.model), config.model.target
    with lake.locked(path.stem):
        record = lake.read_json(path) or {"champion": champion.version, "since": since,
                                          "candidates": [c.version for c in candidates], "looks": {}}
        looks = record["looks"]
        if batch_id in looks:
            state = looks[batch_id]
        else:
            earlier = [b for b in looks if b < batch_id]
            state = dict(looks[max(earlier)]) if earlier else {}
            if not any(b > batch_id for b in looks):
                for candidate in tried:
                    seen = state.get(candidate.version) or {"days": [], **Evidence().to_dict()}
                    new = [d for d in labelled if (since is None or d > since) and d not in seen["days"]]
                    evidence = Evidence.from_dict(seen)
                    for day in new:
                        frame = rows(day)
                        if frame is None:  # not labelled after all (labelled days have predictions and labels)
                            continue
                        ours = offline_scores(lake, config, registry, frame, champion.version, offline=True)
                        theirs = offline_scores(lake, config, registry, frame, candidate.version, offline=True)
                        evidence = evidence.extend(evidence_units(kind, frame[target].to_numpy(), ours, theirs))
                    state[candidate.version] = {"days": seen["days"] + new, **evidence.to_dict()}
                looks[batch_id] = state
                lake.write_json(record, path)
    return {version: Evidence.from_dict(seen) for version, seen in state.items()}


def _guardrail(lake: Lake, config: PipelineConfig, registry: Registry, labelled: list[str], champion, previous,
               versions: list, search_days: list[str] | None, batch_id: str):
    """(comparison, the version it is about, what its evidence rests on) of a rollback target against the
    champion.

    Normally the target is `previous_champion`; its metric is read on the latest `guardrail_days` labelled
    days since the champion's promotion (rows both shadow-scored). When the champion is short of the service
    level (`search_days`: the latest labelled days since the onset) the question is "did an earlier champion
    serve this concept well?": the versions that served before are tried, newest first, on those days, scored
    offline where they did not shadow-score; after a concept reverts, the version that fits it may be
    promotions back. What decides is each candidate's e-process over all the rows served since the
    promotion (`_tenure_evidence`), never one rebuilt on a window, at the level split across the candidates."""
    search = bool(search_days)
    since = _tenure_start(champion) if champion else None
    if search:
        days = search_days
    else:
        days = [b for b in labelled if since and b > since][-config.policy.guardrail_days:]
        if len(days) < config.policy.guardrail_days:
            return None, previous, None
    frames: dict[str, pd.DataFrame | None] = {}

    def rows(day: str) -> pd.DataFrame | None:  # each labelled day's rows read once, for the window and the evidence
        if day not in frames:
            frames[day] = pool_days(lake, config, [day])
        return frames[day]

    found = [f for f in (rows(d) for d in days) if f is not None] if champion else []
    if not found:
        return None, previous, None
    pooled = pd.concat(found, ignore_index=True)
    ours = offline_scores(lake, config, registry, pooled, champion.version, offline=search)
    if ours is None:
        return None, previous, None
    record = lake.read_json(lake.guardrail_evidence(champion.version, since))
    listed = record["candidates"] if record else [c.version for c in _rollback_candidates(champion, previous,
                                                                                          versions)]
    by_version = {v.version: v for v in versions}
    candidates = [by_version[v] for v in listed if v in by_version]
    tried = candidates if search else [c for c in candidates if previous and c.version == previous.version]
    if not tried:
        return None, previous, None
    evidence = _tenure_evidence(lake, config, registry, champion, since, candidates, tried, labelled, batch_id,
                                rows)
    rules, first, kind = config.challenger, None, task_kind(config.model)
    for candidate in tried:
        theirs = offline_scores(lake, config, registry, pooled, candidate.version, offline=search)
        if theirs is None or candidate.version not in evidence:
            continue
        window = paired_bootstrap(pooled[config.model.target], ours, theirs, metric=rules.metric,
                                  rounds=rules.bootstrap_rounds, confidence=rules.confidence, seed=rules.seed,
                                  alpha=rules.alpha, kind=kind)
        comparison = with_evidence(window, evidence[candidate.version], len(listed))
        about = {"since": since, "units": evidence[candidate.version].units, "candidates": len(listed)}
        first = first or (comparison, candidate, about)
        if comparison.wins_by(config.policy.rollback_margin):
            return comparison, candidate, about
    return first if first else (None, previous, None)


def _days_between(earlier: str | None, later: str) -> int | None:
    if not earlier:
        return None
    return (parse_batch_id(later) - parse_batch_id(earlier)).days


def drift_streak(lake: Lake, config: PipelineConfig, batch_id: str) -> int:
    """Consecutive days up to `batch_id` whose drift raised a drift_alert: at least
    `drift.min_drifted_features` features drifted (fewer is below the bar the alert is raised at)."""
    streak, day = 0, parse_batch_id(batch_id)
    while True:
        report = lake.read_json(lake.report_dir(day.isoformat()) / "drift.json")
        if not report or len(report.get("drifted_features") or []) < config.drift.min_drifted_features:
            return streak
        streak += 1
        day -= dt.timedelta(days=1)


# --- the day's assessment ---------------------------------------------------------------------
def build_state(config: PipelineConfig, batch_id: str) -> State:
    """Everything the policy needs, gathered from the lake and the registry."""
    lake = Lake(config.storage_root)
    registry = Registry(config)
    metric = config.challenger.metric
    status = decisions.batch_status(lake, batch_id)
    drift = lake.read_json(lake.report_dir(batch_id) / "drift.json", {}) or {}
    drifted = tuple(drift.get("drifted_features", []))

    streak = drift_streak(lake, config, batch_id)

    predictions = lake.predictions(batch_id)
    kind = task_kind(config.model)
    output = kind.output(pd.read_parquet(predictions, columns=["prediction"])["prediction"]) \
        if status in decisions.USABLE and predictions.exists() else None
    profile = lake.read_json(lake.reference_profile, {}) or {}

    champion = registry.by_alias(CHAMPION)
    previous_champion = registry.by_alias(PREVIOUS_CHAMPION)
    challenger = registry.by_alias(CHALLENGER)
    labelled = labelled_batch_ids(lake, batch_id)

    champion_metric = None
    recent_days = labelled[-config.policy.performance_window_days:]
    recent = pool_days(lake, config, recent_days)
    if champion is not None and recent is not None:
        scores = scores_of(config, recent, champion.version)
        if scores is None:
            # Just promoted: the days with labels were served by another version. Score those it did not
            # train on offline, so a bad promotion shows at once instead of after days of unknown performance.
            unseen = [d for d in recent_days if d > champion.tags.get("seen_until", "")]
            recent = pool_days(lake, config, unseen)
            scores = offline_scores(lake, config, registry, recent, champion.version, offline=True) \
                if recent is not None else None
        if scores is not None:
            champion_metric = model.evaluate(config.model, recent[config.model.target], scores)[metric]

    versions = registry.versions()
    trained_on = [v.tags["trained_on"] for v in versions if v.tags.get("trained_on", "") <= batch_id
                  and v.tags.get("trained_on") and v.tags.get("trigger") != "init"]
    first_day = (lake.landed_ids("batches") or [batch_id])[0]
    last_challenger = max(trained_on) if trained_on else None
    retrains = [v.tags["trained_on"] for v in versions
                if v.tags.get("trigger") in ("performance", "drift") and v.tags.get("trained_on", "") <= batch_id]

    service_baseline = config.policy.service_baseline
    if service_baseline is None:
        first = initial_champion(versions)
        service_baseline = float(first.tags[f"metric_{metric}"]) if first and f"metric_{metric}" in first.tags \
            else None
    champion_baseline = float(champion.tags[f"metric_{metric}"]) if champion and f"metric_{metric}" in champion.tags \
        else None
    bar = bar_of(service_baseline, champion_baseline)
    onset = onset_day(served_metric_by_day(config, labelled), bar, config.policy.max_metric_drop, metric) \
        if bar is not None else None
    if onset is None and champion is not None and champion_metric is not None and bar is not None \
            and shortfall(champion_metric, bar, metric) > 0:
        # A champion trained after an onset and still short of the service level: its concept is still in
        # force, and rows since that onset keep accumulating for a better challenger.
        onset = champion.tags.get("onset")
    # Short of the service level: did an earlier champion serve the rows since the onset better?
    short = champion_metric is not None and bar is not None and shortfall(champion_metric, bar, metric) > 0
    since = [d for d in labelled[-config.policy.performance_window_days:] if not onset or d >= onset] if short else None
    guardrail, fallback, guardrail_evidence = _guardrail(lake, config, registry, labelled, champion,
                                                         previous_champion, versions, search_days=since,
                                                         batch_id=batch_id)
    seen = [v.tags.get("seen_until") for v in versions if v.tags.get("trigger") == "performance"
            and onset and v.tags.get("onset") == onset and v.tags.get("trained_on", "") <= batch_id]
    repairs = challenger.tags.get("repairs") if challenger else None
    last_look = challenger.tags.get("last_look") if challenger else None

    return State(
        batch_id=batch_id,
        batch_status=status,
        drifted_features=drifted,
        drift_streak=streak,
        output=output,
        reference_output=reference_output(profile),  # the champion's outputs on the reference holdout, from init
        champion_version=champion.version if champion else None,
        champion_metric=champion_metric,
        champion_baseline=champion_baseline,
        guardrail=guardrail,
        guardrail_evidence=guardrail_evidence,
        previous_champion_baseline=float(fallback.tags[f"metric_{metric}"])
        if fallback and f"metric_{metric}" in fallback.tags else None,
        rollback_to=fallback.version if fallback and guardrail else None,
        challenger_pending=bool(challenger and challenger.approval == "pending"
                                and not challenger.approval_expired(batch_id, config.policy.approval_ttl_days)),
        challenger_repairs={"yes": True, "partial": False}.get(repairs) if repairs else None,
        challenger_evaluating=bool(challenger and challenger.approval == "evaluating" and labelled
                                   and (last_look is None or labelled[-1] > last_look)),
        latest_labelled=labelled[-1] if labelled else None,
        onset=onset,
        retrained_through=max([s for s in seen if s], default=None),
        service_baseline=service_baseline,
        days_since_retrain=_days_between(max(retrains) if retrains else None, batch_id),
        days_since_challenger=_days_between(last_challenger or first_day, batch_id),
    )

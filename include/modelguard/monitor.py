"""Monitor stage: data and prediction drift (Evidently), realized performance on labelled batches,
and the day's assessment by the policy engine.

Outputs per batch under `reports/<batch_id>/`: `drift.html` (Evidently), `drift.json` (per-column
verdicts), `assessment.json` (the state the policy saw and the actions it chose). Realized metrics
go to the tidy table `metrics/performance.parquet` (batch_id, version, alias, segment, metric, value).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from modelguard import decisions, model
from modelguard.checklist import build_checklist, to_markdown
from modelguard.compare import paired_bootstrap
from modelguard.config import DriftConfig, PipelineConfig
from modelguard.estimate import estimate
from modelguard.evidently_html import save_report
from modelguard.policy import State, bar_of, decide, onset_day, service_bar
from modelguard.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, Registry
from modelguard.runtime import quiet_libraries
from modelguard.storage import Lake, iter_chunks, parse_batch_id

DAG_ID = "modelguard_monitor"
SCORE_COLUMN = "score"
SMALL_SAMPLE_ROWS = 1000  # up to this many reference rows Evidently picks p-value tests, above it distances
SKEW_ROWS = 500  # served rows re-scored offline each day to catch training/serving skew
MAX_ROLLBACK_CANDIDATES = 3  # versions that served before, tried as rollback targets under a drop


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(rows, random_state=seed) if len(frame) > rows else frame


def measure_drift(current: pd.DataFrame, reference: pd.DataFrame, numeric: list[str], categorical: list[str],
                  drift: DriftConfig, seed: int = 0) -> tuple[Any, dict[str, dict], list[int]]:
    """Evidently drift of each column, current against reference, on samples of `drift.sample_rows` rows.

    Returns the Evidently snapshot (for the HTML report), the per-column verdicts and the rows compared
    on each side. Sampling is
    the speed trade: Evidently's distance tests (Wasserstein / Jensen-Shannon, chosen above 1000
    rows) cost O(n) per column and their value on 5,000 rows is within a few hundredths of the
    full-data value, so only columns within that distance of the threshold can get another verdict.
    The thresholds are effect sizes, not p-values, so 25 features on a quiet day do not alert by chance;
    on small samples, where Evidently falls back to p-value tests, `drift.p_value_alpha` is split
    across the columns (Bonferroni) for the same reason.
    """
    quiet_libraries()
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    columns = [*numeric, *categorical]
    current = _sample(current[columns], drift.sample_rows, seed)
    reference = _sample(reference[columns], drift.sample_rows, 0)
    definition = DataDefinition(numerical_columns=list(numeric), categorical_columns=list(categorical))
    # The drift count plus one ValueDrift per column: the same verdicts as DataDriftPreset, whose
    # combined table costs twice as much to render.
    num_threshold, cat_threshold = drift.num_threshold, drift.cat_threshold
    methods: dict[str, str | None] = dict.fromkeys(columns)
    cat_method = None
    if len(reference) <= SMALL_SAMPLE_ROWS:  # Evidently uses p-value tests here: Bonferroni across columns
        num_threshold = cat_threshold = drift.p_value_alpha / len(columns)
        cat_method = _homogeneity_test()
        # Evidently treats numbers with <= 5 distinct values as categories too (goodness-of-fit chi-square)
        few_values = [c for c in numeric if pd.concat([current[c], reference[c]]).nunique() <= 5]
        methods.update(dict.fromkeys([*categorical, *few_values], cat_method))
    thresholds = {c: cat_threshold if c in categorical else num_threshold for c in columns}
    snapshot = Report(
        [DriftedColumnsCount(columns=columns, num_threshold=num_threshold, cat_threshold=cat_threshold,
                             cat_method=cat_method),
         *(ValueDrift(column=c, threshold=thresholds[c], method=methods[c]) for c in columns)],
        include_tests=False,
    ).run(Dataset.from_pandas(current, data_definition=definition),
          Dataset.from_pandas(reference, data_definition=definition))
    return snapshot, column_verdicts(snapshot.dict()), [len(current), len(reference)]


def _homogeneity_test() -> str:
    """Register (once) a chi-square test of homogeneity for categories (and numbers with few values).

    Evidently's small-sample default for categories is a goodness-of-fit chi-square that takes the
    reference's frequencies as the truth; with a few hundred reference rows their own noise makes it
    fire on most quiet days (8 of 12 in tests/test_drift_detectors.py). Both samples are samples."""
    from evidently.legacy.calculations.stattests.registry import (
        StatTest,
        _registered_stat_tests,
        register_stattest,
    )
    from evidently.legacy.core import ColumnType
    from scipy.stats import chi2_contingency

    name = "chi2_homogeneity_p_value"  # column_verdicts reads "p_value" in a method name as "low is drift"
    if name not in _registered_stat_tests:
        def test(reference: pd.Series, current: pd.Series, feature_type, threshold: float) -> tuple[float, bool]:
            table = pd.concat([reference.value_counts(), current.value_counts()], axis=1).fillna(0).to_numpy().T
            p_value = float(chi2_contingency(table)[1]) if table.shape[1] > 1 else 1.0
            return p_value, p_value < threshold

        register_stattest(StatTest(name=name, display_name="chi-square homogeneity p_value",
                                   allowed_feature_types=[ColumnType.Categorical, ColumnType.Numerical]),
                          default_impl=test)
    return name


def column_verdicts(snapshot: dict) -> dict[str, dict]:
    """Per-column drift verdicts from an Evidently snapshot's ValueDrift metrics (also DataDriftPreset's)."""
    verdicts = {}
    for metric in snapshot["metrics"]:
        cfg = metric.get("config", {})
        if not cfg.get("type", "").endswith("ValueDrift"):
            continue
        method, threshold, value = cfg.get("method", ""), float(cfg.get("threshold", 0)), float(metric["value"])
        drifted = value < threshold if "p_value" in method else value >= threshold
        verdicts[cfg["column"]] = {"method": method, "value": value, "threshold": threshold, "drifted": drifted}
    return verdicts


def drift_report(config: PipelineConfig, batch_id: str) -> dict:
    """Evidently data drift of the features and the champion's score against the reference."""
    lake = Lake(config.storage_root)
    batch_path, predictions_path = lake.validated("batches", batch_id), lake.predictions(batch_id)
    if not batch_path.exists() or not predictions_path.exists():
        return {"batch_id": batch_id, "status": "not_accepted"}
    features = config.model.features
    seed = int(parse_batch_id(batch_id).strftime("%Y%m%d"))
    # only the sampled rows are read into Python objects; the same rows measure_drift would sample
    current = lake.read_parquet_rows(batch_path, features.all, config.drift.sample_rows, seed)
    current[SCORE_COLUMN] = lake.read_parquet_rows(predictions_path, [f"score_{CHAMPION}"], config.drift.sample_rows,
                                                   seed)[f"score_{CHAMPION}"].to_numpy()
    # the reference's sample likewise (seed 0, as measure_drift samples it), not its every row, every day
    reference = lake.read_parquet_rows(lake.reference_scored, [*features.all, SCORE_COLUMN], config.drift.sample_rows, 0)
    snapshot, verdicts, rows_compared = measure_drift(
        current, reference, [*features.numeric, SCORE_COLUMN], list(features.categorical), config.drift, seed=seed)
    folder = lake.report_dir(batch_id)
    save_report(snapshot, folder / "drift.html", lake)

    drifted = sorted((c for c, v in verdicts.items() if v["drifted"] and c != SCORE_COLUMN),
                     key=lambda c: -verdicts[c]["value"])
    result = {
        "batch_id": batch_id,
        "status": "measured",
        "columns": verdicts,
        "drifted_features": drifted,
        "drift_share": len(drifted) / len(features.all),
        "score_drifted": verdicts.get(SCORE_COLUMN, {}).get("drifted", False),
        "rows_compared": rows_compared,
    }
    lake.write_json(result, folder / "drift.json")
    return {k: v for k, v in result.items() if k != "columns"}


# --- realized performance ---------------------------------------------------------------------
def labelled_predictions(lake: Lake, config: PipelineConfig, batch_id: str) -> pd.DataFrame | None:
    """A batch's predictions joined with its validated labels (and segment columns), or None."""
    labels_path, predictions_path = lake.validated("labels", batch_id), lake.predictions(batch_id)
    if not labels_path.exists() or not predictions_path.exists():
        return None
    key, target = config.model.id_column, config.model.target
    joined = pd.read_parquet(predictions_path).merge(pd.read_parquet(labels_path)[[key, target]], on=key)
    if config.model.segments:
        batch = pd.read_parquet(lake.validated("batches", batch_id), columns=[key, *config.model.segments])
        joined = joined.merge(batch, on=key, how="left")
    return joined


def scores_of(frame: pd.DataFrame, version: str) -> pd.Series | None:
    """The scores a given registry version gave these rows, whichever alias it held when scoring."""
    for alias in (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION):
        column = f"version_{alias}"
        if column in frame.columns and (frame[column].astype(str) == str(version)).all():
            return frame[f"score_{alias}"]
    return None


def measure_performance(config: PipelineConfig, batch_id: str) -> dict:
    """Realized metrics of every model that scored a labelled batch (all batches with labels so far)."""
    lake = Lake(config.storage_root)
    rows = []
    measured = []
    # Each labelled day is measured once per label file: corrected labels (a new file) are measured again.
    history = health_history(config)
    shas = history["labels_sha256"] if "labels_sha256" in history else [None] * len(history)
    done = {day: None if pd.isna(sha) else sha for day, sha in zip(history["batch_id"], shas, strict=True)}
    current = {e["batch_id"]: e.get("file_sha256") for e in decisions.read_decisions(lake)
               if e.get("kind") == "labels" and e["action"] == "accept_batch"}  # the latest line wins
    for labelled_id in lake.validated_ids("labels"):
        if labelled_id > batch_id or (labelled_id in done and done[labelled_id] == current.get(labelled_id)):
            continue
        frame = labelled_predictions(lake, config, labelled_id)
        if frame is None:
            continue
        for alias in (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION):
            if f"score_{alias}" not in frame.columns:
                continue
            version = str(frame[f"version_{alias}"].iloc[0])
            groups = [("all", frame)]
            if alias == CHAMPION:
                groups += [(f"{s}={value}", part) for s in config.model.segments for value, part in frame.groupby(s)]
            for segment, part in groups:
                metrics = model.evaluate(config.model, part[config.model.target], part[f"score_{alias}"])
                rows += [{"batch_id": labelled_id, "alias": alias, "version": version, "segment": segment,
                          "metric": name, "value": value, "labels_sha256": current.get(labelled_id)}
                         for name, value in metrics.items()]
        measured.append(labelled_id)
    if rows:
        lake.upsert_rows(lake.performance_table, pd.DataFrame(rows), ["batch_id", "alias", "segment", "metric"])
    return {"batch_id": batch_id, "newly_measured": measured}


def _pooled(lake: Lake, config: PipelineConfig, batch_ids: list[str]) -> pd.DataFrame | None:
    frames = [f.assign(_batch_id=b) for f, b in ((labelled_predictions(lake, config, b), b) for b in batch_ids)
              if f is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def labelled_batch_ids(lake: Lake, batch_id: str) -> list[str]:
    """Accepted, scored batches with validated labels, up to today, in order."""
    predicted = set(lake.prediction_ids())
    return [b for b in lake.validated_ids("labels") if b <= batch_id and b in predicted]


def _guardrail(lake: Lake, config: PipelineConfig, registry: Registry, labelled: list[str], champion, previous,
               versions: list, search_days: list[str] | None):
    """(comparison, the version it is about) of a rollback target against the champion.

    Normally the target is `previous_champion`, compared on the labelled days since the champion's
    promotion (rows both shadow-scored). When the champion is short of the service level (`search_days`:
    the latest labelled days since the onset) the question is "did an earlier champion serve this concept
    well?": the versions that served before are tried, newest first, on those days, scored offline where
    they did not shadow-score; after a concept reverts, the version that fits it may be promotions back."""
    search = bool(search_days)
    if search:
        days = search_days
    else:
        promoted_on = champion.tags.get("promoted_on") if champion else None
        days = [b for b in labelled if promoted_on and b > promoted_on][-config.policy.guardrail_days:]
        if len(days) < config.policy.guardrail_days:
            return None, previous
    pooled = _pooled(lake, config, days) if champion and days else None
    if pooled is None:
        return None, previous
    candidates = [previous] if previous else []
    if search:
        served = [v for v in reversed(versions) if v.version not in (champion.version, previous and previous.version)
                  and (v.tags.get("trigger") == "init" or "promoted_on" in v.tags)]
        # the first champion always (the service level was set by it), then the most recent others
        served.sort(key=lambda v: v.tags.get("trigger") != "init")
        candidates += served[:MAX_ROLLBACK_CANDIDATES - len(candidates)]
    ours = _scores(lake, config, registry, pooled, champion.version, offline=search)
    if ours is None:
        return None, previous
    rules, first = config.challenger, None
    for candidate in candidates:
        theirs = _scores(lake, config, registry, pooled, candidate.version, offline=search)
        if theirs is None:
            continue
        comparison = paired_bootstrap(pooled[config.model.target], ours, theirs, metric=rules.metric,
                                      rounds=rules.bootstrap_rounds, confidence=rules.confidence, seed=rules.seed,
                                      alpha=rules.alpha)
        first = first or (comparison, candidate)
        if comparison.wins_by(config.policy.rollback_margin):
            return comparison, candidate
    return first if first else (None, previous)


def _scores(lake: Lake, config: PipelineConfig, registry: Registry, pooled: pd.DataFrame, version: str,
            offline: bool):
    """The scores `version` gave the pooled rows when it shadow-scored them, else (if `offline`) now."""
    stored = scores_of(pooled, version)
    if stored is not None or not offline:
        return stored
    return pd.Series(model.predict_scores(registry.load(version), config.model, _with_features(lake, config, pooled)))


def _with_features(lake: Lake, config: PipelineConfig, pooled: pd.DataFrame) -> pd.DataFrame:
    """Pooled labelled predictions with their batches' feature columns, in the same row order."""
    key = config.model.id_column
    days = list(dict.fromkeys(pooled["_batch_id"]))
    features = pd.concat([pd.read_parquet(lake.validated("batches", b), columns=[key, *config.model.features.all])
                          for b in days], ignore_index=True)
    return pooled[[key]].merge(features, on=key, how="left")


def served_metric_by_day(config: PipelineConfig, labelled: list[str]) -> list[tuple[str, float]]:
    """(batch_id, the comparison metric of the champion that served it) for each labelled day measured."""
    history = health_history(config)
    served = history[(history["alias"] == CHAMPION) & (history["segment"] == "all")
                     & (history["metric"] == config.challenger.metric)]
    values = dict(zip(served["batch_id"], served["value"].astype(float), strict=True))
    return [(b, values[b]) for b in labelled if b in values]


def _days_between(earlier: str | None, later: str) -> int | None:
    if not earlier:
        return None
    return (parse_batch_id(later) - parse_batch_id(earlier)).days


# --- the day's assessment ---------------------------------------------------------------------
def build_state(config: PipelineConfig, batch_id: str) -> State:
    """Everything the policy needs, gathered from the lake and the registry."""
    lake = Lake(config.storage_root)
    registry = Registry(config)
    metric = config.challenger.metric
    status = decisions.batch_status(lake, batch_id)
    drift = lake.read_json(lake.report_dir(batch_id) / "drift.json", {}) or {}
    drifted = tuple(drift.get("drifted_features", []))

    streak = 0
    day = parse_batch_id(batch_id)
    while True:
        previous = lake.read_json(lake.report_dir(day.isoformat()) / "drift.json")
        if not previous or not previous.get("drifted_features"):
            break
        streak += 1
        day -= dt.timedelta(days=1)

    predictions = lake.predictions(batch_id)
    positive_rate = float(pd.read_parquet(predictions, columns=["prediction"])["prediction"].mean()) \
        if status in decisions.USABLE and predictions.exists() else None
    profile = lake.read_json(lake.reference_profile, {}) or {}

    champion = registry.by_alias(CHAMPION)
    previous_champion = registry.by_alias(PREVIOUS_CHAMPION)
    challenger = registry.by_alias(CHALLENGER)
    labelled = labelled_batch_ids(lake, batch_id)

    champion_metric = None
    recent_days = labelled[-config.policy.performance_window_days:]
    recent = _pooled(lake, config, recent_days)
    if champion is not None and recent is not None:
        scores = scores_of(recent, champion.version)
        if scores is None:
            # Just promoted: the days with labels were served by another version. Score those it did not
            # train on offline, so a bad promotion shows at once instead of after days of unknown performance.
            unseen = [d for d in recent_days if d > champion.tags.get("seen_until", "")]
            recent = _pooled(lake, config, unseen)
            scores = _scores(lake, config, registry, recent, champion.version, offline=True) \
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
        first = next((v for v in versions if v.tags.get("trigger") == "init" and f"metric_{metric}" in v.tags), None)
        service_baseline = float(first.tags[f"metric_{metric}"]) if first else None
    champion_baseline = float(champion.tags[f"metric_{metric}"]) if champion and f"metric_{metric}" in champion.tags \
        else None
    bar = bar_of(service_baseline, champion_baseline)
    onset = onset_day(served_metric_by_day(config, labelled), bar, config.policy.max_metric_drop) \
        if bar is not None else None
    if onset is None and champion is not None and champion_metric is not None and bar is not None \
            and champion_metric < bar:
        # A champion trained after an onset and still short of the service level: its concept is still in
        # force, and rows since that onset keep accumulating for a better challenger.
        onset = champion.tags.get("onset")
    # Short of the service level: did an earlier champion serve the rows since the onset better?
    short = champion_metric is not None and bar is not None and champion_metric < bar
    since = [d for d in labelled[-config.policy.performance_window_days:] if not onset or d >= onset] if short else None
    guardrail, fallback = _guardrail(lake, config, registry, labelled, champion, previous_champion, versions,
                                     search_days=since)
    seen = [v.tags.get("seen_until") for v in versions if v.tags.get("trigger") == "performance"
            and onset and v.tags.get("onset") == onset and v.tags.get("trained_on", "") <= batch_id]
    repairs = challenger.tags.get("repairs") if challenger else None
    last_look = challenger.tags.get("last_look") if challenger else None

    return State(
        batch_id=batch_id,
        batch_status=status,
        drifted_features=drifted,
        drift_streak=streak,
        positive_rate=positive_rate,
        reference_positive_rate=profile.get("predicted_positive_rate"),
        champion_version=champion.version if champion else None,
        champion_metric=champion_metric,
        champion_baseline=champion_baseline,
        guardrail=guardrail,
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


def health_history(config: PipelineConfig) -> pd.DataFrame:
    """The tidy performance table (empty frame when nothing is labelled yet)."""
    lake = Lake(config.storage_root)
    if not lake.performance_table.exists():
        return pd.DataFrame(columns=["batch_id", "alias", "version", "segment", "metric", "value"])
    return pd.read_parquet(lake.performance_table)


# --- health: label-free estimate, root-cause checklist, history ---------------------------------
def _worst_segments(config: PipelineConfig, labelled: list[str], limit: int = 3) -> list[str]:
    history = health_history(config)
    if history.empty or not labelled:
        return []
    metric = config.challenger.metric
    latest = history[(history["batch_id"] == labelled[-1]) & (history["alias"] == CHAMPION)
                     & (history["segment"] != "all")]
    values = latest[latest["metric"] == metric].set_index("segment")["value"]
    rows = latest[latest["metric"] == "rows"].set_index("segment")["value"]
    values = values[rows.reindex(values.index).fillna(0) >= 200].dropna().sort_values()
    return [f"{segment} {value:.3f}" for segment, value in values.head(limit).items()]


def _serving_skew(registry: Registry, config: PipelineConfig, lake: Lake, batch_id: str) -> float | None:
    """Re-score served rows offline with the same champion version: any difference is training/serving skew."""
    path = lake.predictions(batch_id)
    if not path.exists():
        return None
    # the first rows of each file only: the check costs the same on a 10M-row day as on a small one
    served = next(iter_chunks(path, [f"version_{CHAMPION}", f"score_{CHAMPION}"], rows=SKEW_ROWS), None)
    batch = next(iter_chunks(lake.validated("batches", batch_id), config.model.features.all, rows=SKEW_ROWS), None)
    if served is None or batch is None or served.empty:
        return None
    version = str(served[f"version_{CHAMPION}"].iloc[0])
    rescored = model.predict_scores(registry.load(version), config.model, batch)
    return float(abs(rescored - served[f"score_{CHAMPION}"].to_numpy()[: len(batch)]).max())


def health_evidence(config: PipelineConfig, batch_id: str, state: State, actions: list) -> dict:
    """What the checklist and the health history need, gathered once."""
    lake = Lake(config.storage_root)
    ingest = [e for e in decisions.for_batch(lake, batch_id) if e["dag_id"] == "modelguard_ingest"]
    drift = lake.read_json(lake.report_dir(batch_id) / "drift.json", {}) or {}
    evidence: dict = {
        "batch_status": state.batch_status,
        "failures": ingest[-1].get("failed", []) if ingest else [],
        "warnings": ingest[-1].get("warnings", []) if ingest else [],
        "drifted_features": list(state.drifted_features),
        "score_drifted": drift.get("score_drifted", False),
        "positive_rate": state.positive_rate,
        "reference_positive_rate": state.reference_positive_rate,
        "positive_rate_factor": config.drift.positive_rate_factor,
        "performance_alert": any(a.action == "performance_alert" for a in actions),
        "rollback": any(a.action == "rollback" for a in actions),
        "realized": state.champion_metric,
        "baseline": service_bar(state),  # the service level the realized metric is judged against
        "worst_segments": _worst_segments(config, labelled_batch_ids(lake, batch_id)),
    }
    try:
        registry = Registry(config)
        evidence["skew_max_difference"] = _serving_skew(registry, config, lake, batch_id) \
            if state.batch_status in decisions.USABLE else None
        evidence["registry_ok"] = evidence["champion_loads"] = True
    except Exception as error:  # noqa: BLE001 - the checklist reports the dependency failure
        evidence.update(registry_ok=False, champion_loads=False, registry_error=str(error)[:300])
    predictions = lake.predictions(batch_id)
    if state.batch_status in decisions.USABLE and predictions.exists() and config.model.task == "binary_classification":
        scores = pd.read_parquet(predictions, columns=[f"score_{CHAMPION}"])[f"score_{CHAMPION}"].to_numpy()
        estimated = estimate(scores, config.model.decision_threshold)
        evidence["estimated"] = estimated["roc_auc"]
        evidence["estimated_metrics"] = estimated
    return evidence


def record_health(config: PipelineConfig, batch_id: str, evidence: dict, drift: dict) -> dict:
    """Write the checklist (JSON + Markdown) and one row per metric to the tidy health table and MLflow."""
    lake = Lake(config.storage_root)
    result = build_checklist(evidence)
    folder = lake.report_dir(batch_id)
    lake.write_json({"batch_id": batch_id, **result}, folder / "checklist.json")
    lake.write_text(to_markdown(batch_id, result), folder / "checklist.md")
    metrics = {
        "drift_share": drift.get("drift_share"),
        "drifted_features": len(evidence["drifted_features"]),
        "predicted_positive_rate": evidence["positive_rate"],
        "realized_" + config.challenger.metric: evidence["realized"],
        "estimated_roc_auc": evidence.get("estimated"),
        "skew_max_difference": evidence.get("skew_max_difference"),
    }
    metrics = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
    rows = pd.DataFrame([{"batch_id": batch_id, "metric": k, "value": v} for k, v in metrics.items()])
    if not rows.empty:
        lake.upsert_rows(lake.health_table, rows, ["batch_id", "metric"])
    if evidence.get("registry_ok", True):
        Registry(config).log_health(batch_id, metrics)
    return result

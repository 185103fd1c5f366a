"""Challenge stage: train a challenger on the rolling window of accepted, labelled data, register it,
and compare it with the champion on later labelled days (time-based holdout, paired bootstrap).

A challenger that wins asks a person for approval (`approval=pending`, `request_approval`); one
that does not is kept as `challenger` with `approval=rejected` and the comparison that rejected it.
"""

from __future__ import annotations

import pandas as pd

from modelguard import decisions, model
from modelguard.compare import paired_bootstrap
from modelguard.config import PipelineConfig
from modelguard.monitor import health_history, labelled_batch_ids
from modelguard.registry import CHALLENGER, CHAMPION, Registry
from modelguard.storage import Lake

DAG_ID = "modelguard_challenge"


def drift_onset(config: PipelineConfig, labelled: list[str]) -> str | None:
    """First labelled day of the current run of days on which the champion of that day fell below
    its baseline: where the new concept starts. None if the latest labelled day is healthy."""
    history = health_history(config)
    metric = config.challenger.metric
    served = history[(history["alias"] == CHAMPION) & (history["segment"] == "all") & (history["metric"] == metric)]
    registry = Registry(config)
    baselines: dict[str, float | None] = {}
    onset = None
    for batch_id in reversed(labelled):
        row = served[served["batch_id"] == batch_id]
        if row.empty:
            break
        version = str(row["version"].iloc[0])
        if version not in baselines:
            found = registry.get(version)
            baselines[version] = float(found.tags[f"metric_{metric}"]) if found and f"metric_{metric}" in found.tags else None
        baseline = baselines[version]
        if baseline is None or float(row["value"].iloc[0]) >= baseline - config.policy.max_metric_drop:
            break
        onset = batch_id
    return onset


def training_window(lake: Lake, config: PipelineConfig, batch_id: str, trigger: str | None = None
                    ) -> tuple[list[str], list[str]]:
    """(train batch ids, holdout batch ids): the holdout is the latest labelled days, training the
    `window_days` before them. Only accepted batches have predictions, so quarantined rows never enter.

    After a performance drop the old concept is no longer the truth: training starts at the drift
    onset if the days since then hold enough rows (the field guide's "retrain on fresh data").
    """
    labelled = labelled_batch_ids(lake, batch_id)
    holdout_days, window_days = config.challenger.holdout_days, config.challenger.window_days
    holdout = labelled[-holdout_days:]
    train = labelled[:-holdout_days][-window_days:] if len(labelled) > holdout_days else []
    if trigger == "performance":
        onset = drift_onset(config, labelled)
        fresh = [b for b in train if onset and b >= onset]
        if fresh and _rows(lake, fresh) >= config.challenger.min_rows:
            train = fresh
    return train, holdout


def _rows(lake: Lake, batch_ids: list[str]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(lake.validated("labels", b)).metadata.num_rows for b in batch_ids)


def _load(lake: Lake, config: PipelineConfig, batch_ids: list[str]) -> pd.DataFrame:
    key, target = config.model.id_column, config.model.target
    frames = []
    for batch_id in batch_ids:
        batch = pd.read_parquet(lake.validated("batches", batch_id))
        labels = pd.read_parquet(lake.validated("labels", batch_id))[[key, target]]
        frames.append(batch.merge(labels, on=key, how="inner").assign(_batch_id=batch_id))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def challenge(config: PipelineConfig, batch_id: str, trigger: str | None = None) -> dict:
    """Train, register and compare a challenger if today's assessment (or `trigger`) asks for one."""
    lake = Lake(config.storage_root)
    assessment = lake.read_json(lake.report_dir(batch_id) / "assessment.json", {}) or {}
    trigger = trigger or assessment.get("retrain")
    if not trigger:
        return {"batch_id": batch_id, "status": "not_due"}
    rules, target = config.challenger, config.model.target
    train_ids, holdout_ids = training_window(lake, config, batch_id, trigger)
    train, holdout = _load(lake, config, train_ids), _load(lake, config, holdout_ids)
    problem = None
    if len(train) < rules.min_rows:
        problem = f"{len(train)} labelled rows in the window, fewer than min_rows {rules.min_rows}"
    elif config.model.task == "binary_classification" and (
        min(int(train[target].sum()), int((1 - train[target]).sum())) < rules.min_positives
        or holdout.empty or not 0 < holdout[target].sum() < len(holdout)
    ):
        problem = "too few examples of a class in the window or the holdout"
    if problem:
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action",
                         reason=f"challenger not trained ({trigger}): {problem}")
        return {"batch_id": batch_id, "status": "insufficient_data", "reason": problem}

    registry = Registry(config)
    champion = registry.by_alias(CHAMPION)
    data_hash = model.data_hash(train[[config.model.id_column, target]])
    train_key = f"challenger:{trigger}:{batch_id}:{data_hash}"
    existing = registry.find_by_tag("train_key", train_key)
    estimator = registry.load(existing.version) if existing else model.fit(config.model, train)

    candidate_scores = model.predict_scores(estimator, config.model, holdout)
    champion_scores = model.predict_scores(registry.load(champion.version), config.model, holdout)
    comparison = paired_bootstrap(holdout[target], champion_scores, candidate_scores, metric=rules.metric,
                                  rounds=rules.bootstrap_rounds, confidence=rules.confidence, seed=rules.seed)
    metrics = model.evaluate(config.model, holdout[target], candidate_scores)
    wins = comparison.wins_by(rules.min_improvement)
    tags = {
        "trigger": trigger,
        "trained_on": batch_id,
        "train_window": f"{train_ids[0]}..{train_ids[-1]}",
        "train_rows": len(train),
        "holdout_window": f"{holdout_ids[0]}..{holdout_ids[-1]}",
        "data_hash": data_hash,
        "compared_with": champion.version,
        "comparison": "passed" if wins else "failed",
        "comparison_detail": comparison.to_dict(),
        **{f"metric_{k}": round(v, 5) for k, v in metrics.items()},
    }
    version, created = registry.register(estimator, train_key=train_key, tags=tags,
                                         metrics={**metrics, "champion_" + rules.metric: comparison.baseline,
                                                  "improvement": comparison.difference},
                                         run_name=f"challenger-{batch_id}")
    if created or registry.get(version).approval is None:
        registry.set_tags(version, {"approval": "pending" if wins else "rejected"})
    current = registry.aliases().get(CHALLENGER)
    if current is None or int(version) >= int(current):  # a rerun of an old day never points it back
        registry.set_alias(CHALLENGER, version)
    decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="register_challenger", model_version=version,
                     reason=f"trained on {tags['train_window']} ({len(train)} rows), trigger {trigger}",
                     comparison=comparison.to_dict())
    if wins:
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="request_approval", model_version=version,
                         reason=f"challenger v{version} beats champion v{champion.version}: {rules.metric} "
                                f"{comparison.candidate:.3f} vs {comparison.baseline:.3f} "
                                f"(+{comparison.difference:.3f}, CI {comparison.low:.3f}..{comparison.high:.3f})",
                         comparison=comparison.to_dict())
    else:
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action", model_version=version,
                         reason=f"challenger v{version} does not beat champion v{champion.version} by "
                                f"{rules.min_improvement}: {comparison.difference:+.3f} "
                                f"(CI {comparison.low:.3f}..{comparison.high:.3f})")
    return {"batch_id": batch_id, "status": "registered", "version": version, "wins": wins,
            "improvement": round(comparison.difference, 4)}

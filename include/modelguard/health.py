"""Health of a day: the label-free estimate, training/serving skew, the root-cause checklist, and one row
per health metric in the tidy table `metrics/health.parquet` (and in MLflow)."""

from __future__ import annotations

import pandas as pd

from modelguard import decisions, model
from modelguard.checklist import build_checklist, to_markdown
from modelguard.config import PipelineConfig
from modelguard.performance import health_history, labelled_batch_ids
from modelguard.policy import State, service_bar
from modelguard.registry import CHAMPION, Registry
from modelguard.storage import Lake, iter_chunks
from modelguard.task_kinds import higher_is_better, task_kind

SKEW_ROWS = 500  # served rows re-scored offline each day to catch training/serving skew


def _worst_segments(config: PipelineConfig, labelled: list[str], limit: int = 3) -> list[str]:
    history = health_history(config)
    if history.empty or not labelled:
        return []
    metric = config.challenger.metric
    latest = history[(history["batch_id"] == labelled[-1]) & (history["alias"] == CHAMPION)
                     & (history["segment"] != "all")]
    values = latest[latest["metric"] == metric].set_index("segment")["value"]
    rows = latest[latest["metric"] == "rows"].set_index("segment")["value"]
    values = values[rows.reindex(values.index).fillna(0) >= 200].dropna().sort_values(
        ascending=higher_is_better(metric))  # the worst first, whichever direction the metric goes
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
    kind = task_kind(config.model)
    stored = served[f"score_{CHAMPION}"].to_numpy()[: len(batch)]
    # relative to the scores' size: a regression's predictions of 1e8 differ in their last bits across batch sizes
    return float(abs(kind.summary(rescored) - stored).max() / max(1.0, float(abs(stored).max(initial=0.0))))


def health_evidence(config: PipelineConfig, batch_id: str, state: State, actions: list) -> dict:
    """What the checklist and the health history need, gathered once."""
    lake = Lake(config.storage_root)
    kind = task_kind(config.model)
    ingest = [e for e in decisions.for_batch(lake, batch_id) if e["dag_id"] == "modelguard_ingest"]
    drift = lake.read_json(lake.report_dir(batch_id) / "drift.json", {}) or {}
    evidence: dict = {
        "batch_status": state.batch_status,
        "failures": ingest[-1].get("failed", []) if ingest else [],
        "warnings": ingest[-1].get("warnings", []) if ingest else [],
        "drifted_features": list(state.drifted_features),
        "score_drifted": drift.get("score_drifted", False),
        "output": state.output or {},
        "output_anomaly": kind.output_anomaly(state.output, state.reference_output, config.drift),
        "output_description": kind.describe_output(state.output, state.reference_output),
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
    if not kind.has_estimate:
        evidence["estimate_note"] = f"no label-free estimate for {kind.name.replace('_', ' ')}"
    elif state.batch_status in decisions.USABLE and predictions.exists():
        champion = pd.read_parquet(predictions, columns=kind.score_columns(CHAMPION))  # its scores only
        estimated = kind.estimate(kind.stored(champion, CHAMPION))
        if estimated:
            evidence["estimated"] = estimated.get(config.challenger.metric)
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
        **evidence["output"],  # e.g. predicted_positive_rate, mean_prediction, predicted_share_<class>
        "realized_" + config.challenger.metric: evidence["realized"],
        "estimated_" + config.challenger.metric: evidence.get("estimated"),
        "skew_max_difference": evidence.get("skew_max_difference"),
    }
    metrics = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
    rows = pd.DataFrame([{"batch_id": batch_id, "metric": k, "value": v} for k, v in metrics.items()])
    if not rows.empty:
        lake.upsert_rows(lake.health_table, rows, ["batch_id", "metric"])
    if evidence.get("registry_ok", True):
        Registry(config).log_health(batch_id, metrics)
    return result

"""Realized performance: the models' metrics on labelled days, and the labelled rows they are measured on.

Realized metrics go to the tidy table `metrics/performance.parquet` (batch_id, alias, version, segment,
metric, value, labels_sha256): one row per model, day, segment and metric, measured again when a day's
labels are corrected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelguard import decisions, model
from modelguard.config import PipelineConfig
from modelguard.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, Registry
from modelguard.storage import Lake
from modelguard.task_kinds import task_kind


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


def scores_of(config: PipelineConfig, frame: pd.DataFrame, version: str) -> np.ndarray | None:
    """The scores a given registry version gave these rows, whichever alias it held when scoring."""
    for alias in (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION):
        column = f"version_{alias}"
        if column in frame.columns and (frame[column].astype(str) == str(version)).all():
            return task_kind(config.model).stored(frame, alias)
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
    kind = task_kind(config.model)
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
                metrics = model.evaluate(config.model, part[config.model.target], kind.stored(part, alias))
                rows += [{"batch_id": labelled_id, "alias": alias, "version": version, "segment": segment,
                          "metric": name, "value": value, "labels_sha256": current.get(labelled_id)}
                         for name, value in metrics.items()]
        measured.append(labelled_id)
    if rows:
        lake.upsert_rows(lake.performance_table, pd.DataFrame(rows), ["batch_id", "alias", "segment", "metric"])
    return {"batch_id": batch_id, "newly_measured": measured}


def pool_days(lake: Lake, config: PipelineConfig, batch_ids: list[str]) -> pd.DataFrame | None:
    frames = [f.assign(_batch_id=b) for f, b in ((labelled_predictions(lake, config, b), b) for b in batch_ids)
              if f is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def labelled_batch_ids(lake: Lake, batch_id: str) -> list[str]:
    """Accepted, scored batches with validated labels, up to today, in order."""
    predicted = set(lake.prediction_ids())
    return [b for b in lake.validated_ids("labels") if b <= batch_id and b in predicted]



def offline_scores(lake: Lake, config: PipelineConfig, registry: Registry, pooled: pd.DataFrame, version: str,
                   offline: bool) -> np.ndarray | None:
    """The scores `version` gave the pooled rows when it shadow-scored them, else (if `offline`) now."""
    stored = scores_of(config, pooled, version)
    if stored is not None or not offline:
        return stored
    return model.predict_scores(registry.load(version), config.model, with_features(lake, config, pooled))


def with_features(lake: Lake, config: PipelineConfig, pooled: pd.DataFrame) -> pd.DataFrame:
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



def health_history(config: PipelineConfig) -> pd.DataFrame:
    """The tidy performance table (empty frame when nothing is labelled yet)."""
    lake = Lake(config.storage_root)
    if not lake.performance_table.exists():
        return pd.DataFrame(columns=["batch_id", "alias", "version", "segment", "metric", "value"])
    return pd.read_parquet(lake.performance_table)

"""Score stage: the champion scores each accepted batch; challenger and previous champion shadow-score it.

`predictions/<batch_id>.parquet` holds, per row, the id, the timestamp, `score_<alias>` and
`version_<alias>` for every alias that was set, and `prediction` (the champion's served decision),
so later comparisons of the models use exactly the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelguard import model
from modelguard.config import PipelineConfig
from modelguard.registry import ALIASES, CHAMPION, Registry
from modelguard.storage import Lake, iter_chunks


def score_batch(config: PipelineConfig, batch_id: str) -> dict:
    lake = Lake(config.storage_root)
    source = lake.validated("batches", batch_id)
    if not source.exists():
        # Quarantined or missing: nothing is served from it. Drop a stale output of an earlier run.
        lake.predictions(batch_id).unlink(missing_ok=True)
        return {"batch_id": batch_id, "status": "not_accepted"}
    registry = Registry(config)
    aliases = registry.aliases()
    if CHAMPION not in aliases:
        raise RuntimeError(f"registered model {config.model.name!r} has no champion; run `modelguard init`")
    scored_versions = {alias: aliases[alias] for alias in ALIASES if alias in aliases}
    estimators = {alias: registry.load(version) for alias, version in scored_versions.items()}
    columns = [config.model.id_column, *([config.model.timestamp_column] if config.model.timestamp_column else [])]
    # Row groups are streamed: one chunk of features is in memory at a time, whatever the batch's size.
    parts, scores = [], {alias: [] for alias in estimators}
    for chunk in iter_chunks(source, [*columns, *config.model.features.all]):
        parts.append(chunk[columns])
        for alias, estimator in estimators.items():
            scores[alias].append(model.predict_scores(estimator, config.model, chunk))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    for alias, version in scored_versions.items():
        out[f"score_{alias}"] = np.concatenate(scores[alias]) if parts else np.array([], dtype=float)
        out[f"version_{alias}"] = version
    if config.model.task == "binary_classification":
        out["prediction"] = (out[f"score_{CHAMPION}"] >= config.model.decision_threshold).astype("int64")
    else:
        out["prediction"] = out[f"score_{CHAMPION}"]
    lake.write_parquet(out, lake.predictions(batch_id))
    return {"batch_id": batch_id, "status": "scored", "rows": len(out), "versions": scored_versions,
            "predicted_positive_rate": float(out["prediction"].mean())}

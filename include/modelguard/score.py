"""Score stage: the champion scores each accepted batch; challenger and previous champion shadow-score it.

`predictions/<batch_id>.parquet` holds, per row, the id, the timestamp, `score_<alias>` and
`version_<alias>` for every alias that was set, and `prediction` (the champion's served decision),
so later comparisons of the models use exactly the same rows.
"""

from __future__ import annotations

import pandas as pd

from modelguard import model
from modelguard.config import PipelineConfig
from modelguard.registry import ALIASES, CHAMPION, Registry
from modelguard.storage import Lake


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
    frame = pd.read_parquet(source)
    columns = [config.model.id_column, *([config.model.timestamp_column] if config.model.timestamp_column else [])]
    out = frame[columns].copy()
    scored_versions: dict[str, str] = {}
    for alias in ALIASES:
        version = aliases.get(alias)
        if version is None:
            continue
        out[f"score_{alias}"] = model.predict_scores(registry.load(version), config.model, frame)
        out[f"version_{alias}"] = version
        scored_versions[alias] = version
    if config.model.task == "binary_classification":
        out["prediction"] = (out[f"score_{CHAMPION}"] >= config.model.decision_threshold).astype("int64")
    else:
        out["prediction"] = out[f"score_{CHAMPION}"]
    lake.write_parquet(out, lake.predictions(batch_id))
    return {"batch_id": batch_id, "status": "scored", "rows": len(out), "versions": scored_versions,
            "predicted_positive_rate": float(out["prediction"].mean())}

"""Score stage: the champion scores each accepted batch; challenger and previous champion shadow-score it.

`predictions/<batch_id>.parquet` holds, per row, the id, the timestamp, `score_<alias>` and
`version_<alias>` for every alias that was set, and `prediction` (the champion's served decision),
so later comparisons of the models use exactly the same rows.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelguard import model
from modelguard.config import PipelineConfig
from modelguard.registry import ALIASES, CHAMPION, Registry
from modelguard.storage import Lake, atomic_path, iter_chunks
from modelguard.task_kinds import task_kind


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
    # Row groups are streamed in and out: one chunk of features and its scores in memory at a time, whatever
    # the batch's size; the file appears whole (atomic rename) or not at all.
    rows = 0
    with atomic_path(lake.predictions(batch_id)) as tmp:
        writer = None
        for chunk in iter_chunks(source, [*columns, *config.model.features.all]):
            out = _scored(chunk[columns].reset_index(drop=True), chunk, estimators, scored_versions, config)
            table = pa.Table.from_pandas(out, preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            rows = rows + len(out)
        if writer is None:  # an accepted batch with no rows: an empty file with the same columns
            empty = pd.read_parquet(source, columns=columns)
            _scored(empty, empty, {}, scored_versions, config).to_parquet(tmp, index=False)
        else:
            writer.close()
    return {"batch_id": batch_id, "status": "scored", "rows": rows, "versions": scored_versions}


def _scored(out: pd.DataFrame, features: pd.DataFrame, estimators: dict, versions: dict, config: PipelineConfig
            ) -> pd.DataFrame:
    """The rows' id (and timestamp) with `score_<alias>` (and, multiclass, `score_<alias>__<class>`) and
    `version_<alias>` per alias, and `prediction`: the champion's served decision."""
    kind = task_kind(config.model)
    served = None
    for alias, version in versions.items():
        scores = model.predict_scores(estimators[alias], config.model, features) if alias in estimators \
            and len(features) else kind.predict_nothing()
        for column, values in kind.columns(alias, scores).items():
            out[column] = values
        out[f"version_{alias}"] = version
        served = scores if alias == CHAMPION else served
    out["prediction"] = kind.decision(served if served is not None else kind.predict_nothing())
    return out

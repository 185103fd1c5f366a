"""Data and prediction drift: Evidently's per-column verdicts of a batch against the reference.

Per batch under `reports/<batch_id>/`: `drift.html` (the Evidently report) and `drift.json` (per-column
verdicts, the drifted features, the drift share).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from modelguard.config import DriftConfig, PipelineConfig
from modelguard.evidently_html import save_report
from modelguard.registry import CHAMPION
from modelguard.runtime import quiet_libraries
from modelguard.storage import Lake, parse_batch_id

SCORE_COLUMN = "score"
SMALL_SAMPLE_ROWS = 1000  # up to this many reference rows Evidently picks p-value tests, above it distances


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

"""Great Expectations suites built from the reference data, and validation of a frame against one.

Pure functions of frames and suite JSON (GX's own format, readable and editable by a person).
Each expectation has GX's `severity`: `critical` failures quarantine a batch, `warning` failures
accept it with an alert.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelguard.config import PipelineConfig
from modelguard.runtime import quiet_libraries
from modelguard.storage import to_jsonable

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int64", "float32", "float64", "Float64"]
CATEGORICAL_TYPES = ["object", "str", "string", "category", "StringDtype", "string[python]", "string[pyarrow]"]
TIMESTAMP_TYPES = ["datetime64", "datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"]


def _expectation(kind: str, severity: str = "critical", **kwargs: Any) -> dict:
    return {"type": kind, "kwargs": to_jsonable(kwargs), "meta": {}, "severity": severity}


def build_batch_suite(reference: pd.DataFrame, config: PipelineConfig) -> dict:
    """The expectation suite for daily batches, learned from the reference data."""
    model, rules = config.model, config.validation
    required = [model.id_column, *([model.timestamp_column] if model.timestamp_column else []), *model.features.all]
    missing = [c for c in required if c not in reference.columns]
    if missing:
        raise ValueError(f"reference data lacks columns named in the config: {', '.join(missing)}")
    expectations = [
        _expectation("expect_table_columns_to_match_set", column_set=required, exact_match=False),
        _expectation("expect_table_columns_to_match_set", "warning", column_set=required, exact_match=True),
        _expectation("expect_table_row_count_to_be_between", min_value=rules.min_rows, max_value=rules.max_rows),
        _expectation("expect_column_values_to_not_be_null", column=model.id_column),
        _expectation("expect_column_values_to_be_unique", column=model.id_column),
    ]
    if model.timestamp_column:
        column = model.timestamp_column
        expectations += [
            _expectation("expect_column_values_to_not_be_null", column=column),
            _expectation("expect_column_values_to_be_in_type_list", column=column, type_list=TIMESTAMP_TYPES),
        ]
    for column in model.features.numeric:
        values = pd.to_numeric(reference[column], errors="coerce")
        low, high = float(values.min()), float(values.max())
        margin = rules.range_margin * (high - low)
        null_share = float(values.isna().mean())
        expectations += [
            _expectation("expect_column_values_to_be_in_type_list", column=column, type_list=NUMERIC_TYPES),
            _expectation("expect_column_values_to_not_be_null", column=column,
                         mostly=round(max(0.0, 1 - null_share - rules.null_share_slack), 4)),
            _expectation("expect_column_values_to_be_between", column=column, min_value=low - margin,
                         max_value=high + margin, mostly=0.99),
        ]
    for column in model.features.categorical:
        values = reference[column]
        null_share = float(values.isna().mean())
        expectations += [
            _expectation("expect_column_values_to_be_in_type_list", column=column, type_list=CATEGORICAL_TYPES),
            _expectation("expect_column_values_to_not_be_null", column=column,
                         mostly=round(max(0.0, 1 - null_share - rules.null_share_slack), 4)),
            _expectation("expect_column_values_to_be_in_set", "warning", column=column,
                         value_set=sorted(map(str, values.dropna().unique())),
                         mostly=round(1 - rules.unseen_category_share, 4)),
        ]
    return {"name": f"{model.name}_batches", "expectations": expectations, "meta": {"built_from": "reference"}}


def build_label_suite(config: PipelineConfig) -> dict:
    model = config.model
    expectations = [
        _expectation("expect_table_columns_to_match_set", column_set=[model.id_column, model.target], exact_match=False),
        _expectation("expect_table_row_count_to_be_between", min_value=1, max_value=config.validation.max_rows),
        _expectation("expect_column_values_to_not_be_null", column=model.id_column),
        _expectation("expect_column_values_to_be_unique", column=model.id_column),
        _expectation("expect_column_values_to_not_be_null", column=model.target),
    ]
    if model.task == "binary_classification":
        expectations.append(_expectation("expect_column_values_to_be_in_set", column=model.target, value_set=[0, 1]))
    else:
        expectations.append(_expectation("expect_column_values_to_be_in_type_list", column=model.target,
                                         type_list=NUMERIC_TYPES))
    return {"name": f"{model.name}_labels", "expectations": expectations, "meta": {}}


@dataclass
class ValidationResult:
    accepted: bool
    failures: list[dict] = field(default_factory=list)  # critical expectations that failed
    warnings: list[dict] = field(default_factory=list)  # warning expectations that failed
    evaluated: int = 0

    @property
    def reason(self) -> str:
        if not self.failures:
            return "all critical expectations passed"
        return "; ".join(f["summary"] for f in self.failures[:5])

    def to_dict(self) -> dict:
        return to_jsonable({**asdict(self), "reason": self.reason})


_GX: dict[str, Any] = {}


def _batch_definition():
    """One ephemeral GX context per process: creating it costs far more than validating a batch."""
    if "definition" not in _GX:
        quiet_libraries()
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("modelguard")
        _GX["definition"] = source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("whole")
        _GX["gx"] = gx
    return _GX["gx"], _GX["definition"]


def _summary(kind: str, kwargs: dict, result: dict) -> str:
    column = kwargs.get("column")
    where = f"column {column!r}" if column else "table"
    details = result.get("details", {}).get("mismatched") if isinstance(result.get("details"), dict) else None
    if kind == "expect_table_columns_to_match_set" and details:
        parts = [f"{label} columns {', '.join(map(str, details[label]))}" for label in ("missing", "unexpected")
                 if details.get(label)]
        return f"schema: {'; '.join(parts)}"
    if not result:
        return f"{where}: {kind} could not be evaluated (column missing?)"
    if "unexpected_percent" in result:
        return f"{where}: {kind} failed for {result['unexpected_percent']:.1f}% of rows"
    return f"{where}: {kind} failed (observed {result.get('observed_value')!r})"


def validate(frame: pd.DataFrame, suite: dict, id_column: str | None = None) -> ValidationResult:
    """Run a GX suite (JSON) over a frame; critical failures reject it."""
    gx, definition = _batch_definition()
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
    if id_column and id_column in frame.columns:
        result_format["unexpected_index_column_names"] = [id_column]
    frame = frame.replace([np.inf, -np.inf], np.nan) if _has_inf(frame) else frame
    outcome = definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        gx.ExpectationSuite(**suite), result_format=result_format
    ).to_json_dict()
    failures, warnings = [], []
    for item in outcome["results"]:
        if item["success"]:
            continue
        config = item["expectation_config"]
        kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
        result = item.get("result") or {}
        entry = to_jsonable({
            "expectation": config["type"],
            "column": kwargs.get("column"),
            "severity": config.get("severity", "critical"),
            "expected": kwargs,
            "observed": {k: result.get(k) for k in ("observed_value", "unexpected_percent", "unexpected_count",
                                                    "element_count") if k in result},
            "sample": result.get("partial_unexpected_index_list") or result.get("partial_unexpected_list") or [],
            "exception": (item.get("exception_info") or {}).get("exception_message"),
            "summary": _summary(config["type"], kwargs, result),
        })
        (failures if entry["severity"] == "critical" else warnings).append(entry)
    failures.sort(key=lambda f: f["column"] is not None)  # schema and table problems first: they explain the rest
    return ValidationResult(accepted=not failures, failures=failures, warnings=warnings,
                            evaluated=len(outcome["results"]))


def _has_inf(frame: pd.DataFrame) -> bool:
    numeric = frame.select_dtypes(include="number")
    return bool(np.isinf(numeric.to_numpy(dtype=float, na_value=np.nan)).any()) if not numeric.empty else False

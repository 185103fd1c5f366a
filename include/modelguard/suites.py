"""Great Expectations suites built from the reference data.

A suite is GX's own JSON (readable and editable by a person; GX 1.x `ExpectationSuite(**json)`
loads it). Each expectation carries GX's `severity`: `critical` failures quarantine a batch,
`warning` failures accept it with an alert. Expectations that depend on the batch's day use GX
suite parameters (`{"$PARAMETER": "batch_start"}`), filled in at validation time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from modelguard.config import PipelineConfig
from modelguard.storage import to_jsonable
from modelguard.task_kinds import task_kind
from modelguard.validation import MARKUP_OR_CONTROL, NUMERIC_TYPES, dtype_in

# "StringDtype": the name GX's type check resolves for pandas' string dtype (it does not know "string")
CATEGORICAL_TYPES = ["object", "str", "string", "StringDtype"]
# naive (taken as UTC) or zone-aware ("DatetimeTZDtype", compared as the same instant in UTC)
TIMESTAMP_TYPES = ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]", "DatetimeTZDtype"]
# Suite parameters filled in per batch (GX `$PARAMETER` references).
BATCH_START, BATCH_END = "batch_start", "batch_end"


def expectation(kind: str, severity: str = "critical", **kwargs: Any) -> dict:
    return {"type": kind, "kwargs": to_jsonable(kwargs), "meta": {}, "severity": severity}


# Categorical columns come as text, integer codes or booleans: each keeps its own kind (a batch whose codes
# arrive as text, or text as codes, is another encoding and fails the type check).
CODE_TYPES = [t for t in NUMERIC_TYPES if "int" in t.lower()]
BOOL_TYPES = ["bool", "BooleanDtype"]
KIND_TYPES = {"text": CATEGORICAL_TYPES, "codes": CODE_TYPES, "bool": BOOL_TYPES}  # a categorical's type list
# How a CSV batch's column is read for each kind, so that it arrives as the suite's type
CSV_DTYPES = {"text": str, "codes": "Int64", "bool": "boolean"}


def _family(dtype) -> str:
    """Which of the suite's dtype families a reference column's dtype belongs to."""
    if dtype_in(dtype, BOOL_TYPES):
        return "bool"
    if dtype_in(dtype, CODE_TYPES):
        return "codes"
    if dtype_in(dtype, NUMERIC_TYPES):
        return "numeric"
    if dtype_in(dtype, CATEGORICAL_TYPES):
        return "text"
    if dtype_in(dtype, TIMESTAMP_TYPES):
        return "timestamp"
    return str(dtype)


# the families each role takes (integer columns are numbers or codes, as the config lists them)
_ROLE_FAMILIES = {"numeric": ("numeric", "codes"), "categorical": ("text", "codes", "bool"), "timestamp": ("timestamp",)}


def unsupported_reference_dtypes(reference: pd.DataFrame, config: PipelineConfig) -> list[str]:
    """One sentence per reference column whose dtype its role cannot take: said at `init`, rather than every
    later batch failing its own suite."""
    model = config.model
    roles = {**dict.fromkeys(model.features.numeric, "numeric"), **dict.fromkeys(model.features.categorical, "categorical")}
    if model.timestamp_column:
        roles[model.timestamp_column] = "timestamp"
    hints = {"numeric": "an int, uint, float or nullable number",
             "categorical": "text (object or string), integer codes or booleans; a pandas category or float codes: "
                            "cast them to text",
             "timestamp": "datetime64, naive (taken as UTC) or with a time zone"}
    return [f"reference column {column!r} is {role} in the config but has dtype {reference[column].dtype}: "
            f"it needs {hints[role]}"
            for column, role in roles.items()
            if column in reference.columns and _family(reference[column].dtype) not in _ROLE_FAMILIES[role]]


def csv_dtypes(suite: dict, categorical: list[str]) -> dict[str, object]:
    """How to read each categorical column of a CSV batch so that it arrives as its suite expects it (codes such
    as "02139" stay text; integer codes with gaps stay integers), from the suite's own type checks."""
    kinds = {tuple(types): kind for kind, types in KIND_TYPES.items()}
    found = {}
    for item in suite.get("expectations", []):
        column, kind = item["kwargs"].get("column"), kinds.get(tuple(item["kwargs"].get("type_list") or ()))
        if item["type"] == "expect_column_values_to_be_in_type_list" and kind and column in categorical:
            found[column] = CSV_DTYPES[kind]
    return found


def build_batch_suite(reference: pd.DataFrame, config: PipelineConfig) -> dict:
    """The expectation suite for daily batches, learned from the reference data."""
    model, rules = config.model, config.validation
    required = [model.id_column, *([model.timestamp_column] if model.timestamp_column else []), *model.features.all]
    missing = [c for c in required if c not in reference.columns]
    if missing:
        raise ValueError(f"reference data lacks columns named in the config: {', '.join(missing)}")
    unsupported = unsupported_reference_dtypes(reference, config)
    if unsupported:
        raise ValueError("; ".join(unsupported))
    expectations = [
        expectation("expect_table_columns_to_match_set", column_set=required, exact_match=False),
        expectation("expect_table_columns_to_match_set", "warning", column_set=required, exact_match=True),
        expectation("expect_table_row_count_to_be_between", min_value=rules.min_rows, max_value=rules.max_rows),
        expectation("expect_column_values_to_not_be_null", column=model.id_column),
        expectation("expect_column_values_to_be_unique", column=model.id_column),
    ]
    if model.timestamp_column:
        column = model.timestamp_column
        expectations += [
            expectation("expect_column_values_to_be_in_type_list", column=column, type_list=TIMESTAMP_TYPES),
            expectation("expect_column_values_to_not_be_null", column=column),
            # Freshness: every row inside the batch's day, none in the future.
            expectation("expect_column_values_to_be_between", column=column, min_value={"$PARAMETER": BATCH_START},
                        max_value={"$PARAMETER": BATCH_END}),
        ]
    for column in model.features.numeric:
        override = rules.columns.get(column)
        values = pd.to_numeric(reference[column], errors="coerce")
        low, high = float(values.min()), float(values.max())
        margin = rules.range_margin * (high - low)
        low = override.min if override and override.min is not None else low - margin
        high = override.max if override and override.max is not None else high + margin
        max_nulls = override.max_null_share if override and override.max_null_share is not None \
            else float(values.isna().mean()) + rules.null_share_slack
        expectations += [
            expectation("expect_column_values_to_be_in_type_list", column=column, type_list=NUMERIC_TYPES),
            expectation("expect_column_values_to_not_be_null", column=column, mostly=round(max(0.0, 1 - max_nulls), 4)),
            expectation("expect_column_values_to_be_between",
                        (override.range_severity if override and override.range_severity else "critical"),
                        column=column, min_value=low, max_value=high, mostly=round(1 - rules.out_of_range_share, 4)),
        ]
        if values.nunique() > 10:
            # A stuck sensor or a default filled in upstream: a varied column turned constant.
            expectations.append(expectation("expect_column_unique_value_count_to_be_between", column=column,
                                            min_value=2, max_value=None))
    for column in model.features.categorical:
        override = rules.columns.get(column)
        values = reference[column]
        max_nulls = override.max_null_share if override and override.max_null_share is not None \
            else float(values.isna().mean()) + rules.null_share_slack
        unseen = override.unseen_category_share if override and override.unseen_category_share is not None \
            else rules.unseen_category_share
        kind = _family(values.dtype)
        type_list = KIND_TYPES[kind]
        # the values as a batch holds them: text compared as text, codes as integers, booleans as booleans
        known = sorted(map(str, values.dropna().unique())) if kind == "text" else \
            sorted({int(v) if kind == "codes" else bool(v) for v in values.dropna().unique()})
        expectations += [
            expectation("expect_column_values_to_be_in_type_list", column=column, type_list=type_list),
            expectation("expect_column_values_to_not_be_null", column=column, mostly=round(max(0.0, 1 - max_nulls), 4)),
            # A few new categories (a campaign) are news; mostly unknown ones are another encoding or column.
            expectation("expect_column_values_to_be_in_set", "warning", column=column, value_set=known,
                        mostly=round(1 - unseen, 4)),
            expectation("expect_column_values_to_be_in_set", column=column, value_set=known,
                        mostly=round(1 - rules.max_unseen_share, 4)),
        ]
        if kind == "text":  # Unseen categories are only a warning; markup or control characters never are (script injection).
            expectations.append(expectation("expect_column_values_to_not_match_regex", column=column,
                                            regex=MARKUP_OR_CONTROL))
    return {"name": f"{model.name}_batches", "expectations": expectations,
            "meta": {"built_from": "reference/train.parquet", "parameters": [BATCH_START, BATCH_END],
                     "notes": "severity critical quarantines the batch; warning accepts it with an alert"}}


def build_label_suite(config: PipelineConfig) -> dict:
    model = config.model
    expectations = [
        expectation("expect_table_columns_to_match_set", column_set=[model.id_column, model.target], exact_match=False),
        expectation("expect_table_row_count_to_be_between", min_value=1, max_value=config.validation.max_rows),
        expectation("expect_column_values_to_not_be_null", column=model.id_column),
        expectation("expect_column_values_to_be_unique", column=model.id_column),
        expectation("expect_column_values_to_not_be_null", column=model.target),
    ]
    known = task_kind(model).label_values
    if known is not None:  # classes: a label outside them would be scored as a class no model predicts
        expectations.append(expectation("expect_column_values_to_be_in_set", column=model.target, value_set=list(known)))
    else:
        expectations.append(expectation("expect_column_values_to_be_in_type_list", column=model.target,
                                        type_list=NUMERIC_TYPES))
    return {"name": f"{model.name}_labels", "expectations": expectations, "meta": {}}


def batch_parameters(batch_id: str, now: dt.datetime | None = None, timezone: str = "UTC") -> dict:
    """Suite parameters of a batch: its day in `timezone` (as naive UTC, how timestamps are compared),
    cut at `now` so that no row may come from the future."""
    start = pd.Timestamp(dt.date.fromisoformat(batch_id)).tz_localize(timezone)
    end = (start + pd.DateOffset(days=1)).tz_convert("UTC").tz_convert(None) - pd.Timedelta(microseconds=1)
    current = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    current = current.tz_convert(None) if current.tzinfo is not None else current
    return {BATCH_START: start.tz_convert("UTC").tz_convert(None).isoformat(), BATCH_END: min(end, current).isoformat()}

"""Validate a frame against a GX suite (JSON): `validate(frame, suite) -> ValidationResult`.

Two engines evaluate the same suite:
- `gx`: Great Expectations' own pandas validation (the reference semantics);
- `fast` (default): a vectorised evaluator of the expectation types our suites use, with GX's
  semantics (`mostly` over non-null values, nulls ignored by range and set checks, object columns
  type-checked value by value). Expectations it does not know (a person may add any GX
  expectation to the suite) are handed to GX on the same frame. It exists because GX's pandas
  engine costs several times a plain pandas pass on big batches (see benchmarks/validation_bench.py);
  tests check that both engines reach the same verdicts.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelguard.runtime import quiet_libraries
from modelguard.storage import to_jsonable

SAMPLE_ROWS = 10
# Markup or control characters in a category or a column name: never a real category, and the start of a
# script injection into the reports and pages that show the values. A critical finding.
MARKUP_OR_CONTROL = r"[<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


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
    if "unexpected_percent" in result and result["unexpected_percent"] is not None:
        return f"{where}: {kind} failed for {result['unexpected_percent']:.1f}% of rows"
    return f"{where}: {kind} failed (observed {result.get('observed_value')!r})"


def _entry(config: dict, result: dict, exception: str | None = None) -> dict:
    kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
    return to_jsonable({
        "expectation": config["type"],
        "column": kwargs.get("column"),
        "severity": config.get("severity", "critical"),
        "expected": kwargs,
        "observed": {k: result.get(k) for k in ("observed_value", "unexpected_percent", "unexpected_count",
                                                "element_count") if k in result},
        "sample": result.get("partial_unexpected_index_list") or result.get("partial_unexpected_list") or [],
        "exception": exception,
        "summary": _summary(config["type"], kwargs, result),
    })


def _resolve(value: Any, parameters: dict) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        name = value["$PARAMETER"]
        if name not in parameters:
            raise ValueError(f"suite parameter {name!r} has no value")
        return parameters[name]
    return value


# --- the GX engine ----------------------------------------------------------------------------
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


def _gx_results(frame: pd.DataFrame, expectations: list[dict], id_column: str | None,
                parameters: dict) -> list[tuple[dict, bool, dict, str | None]]:
    gx, definition = _batch_definition()
    # GX compares datetimes with the suite's naive UTC bounds and has no type name for a zone-aware column:
    # it is handed the same instants as naive UTC (what the fast engine compares)
    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if zoned:
        frame = frame.assign(**{c: naive_utc(frame[c]) for c in zoned})
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
    if id_column and id_column in frame.columns:
        result_format["unexpected_index_column_names"] = [id_column]
    suite = gx.ExpectationSuite(name="modelguard", expectations=[{**e, "meta": e.get("meta") or {}} for e in expectations])
    outcome = definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format=result_format, expectation_parameters=_gx_parameters(parameters)).to_json_dict()
    return [(item["expectation_config"], item["success"], item.get("result") or {},
             (item.get("exception_info") or {}).get("exception_message")) for item in outcome["results"]]


def _gx_parameters(parameters: dict) -> dict:
    """GX compares datetime columns with timestamps, not strings."""
    return {k: (pd.Timestamp(v) if isinstance(v, str) and "T" in v else v) for k, v in parameters.items()}


# --- the fast engine --------------------------------------------------------------------------
def _mostly(count: int, considered: int, mostly: float | None) -> tuple[bool, float]:
    """GX's `mostly` rule: (success, unexpected share) of `count` unexpected among `considered` values."""
    share = count / considered if considered else 0.0
    return ((1 - share) >= (mostly if mostly is not None else 1.0) if considered else True), share


def _map_result(frame: pd.DataFrame, column: str, unexpected: np.ndarray, considered: int, mostly: float | None,
                id_column: str | None, percent_of: int | None = None) -> tuple[bool, dict]:
    """GX-shaped result of a column map expectation from a boolean mask of unexpected rows."""
    count = int(unexpected.sum())
    denominator = percent_of if percent_of is not None else considered
    success, share = _mostly(count, denominator, mostly)
    result = {"element_count": len(frame), "unexpected_count": count, "unexpected_percent": 100 * share,
              "_considered": denominator}  # internal: lets a streamed validation add chunks up
    if count:
        rows = np.flatnonzero(unexpected)[:SAMPLE_ROWS]
        values = frame[column].iloc[rows].tolist()
        result["partial_unexpected_list"] = values
        if id_column and id_column in frame.columns:
            ids = frame[id_column].iloc[rows].tolist()
            result["partial_unexpected_index_list"] = [{column: v, id_column: i} for v, i in zip(values, ids, strict=True)]
    return success, result


def _columns_match(frame, kw, ctx):
    expected, observed = list(kw["column_set"]), list(frame.columns)
    missing = [c for c in expected if c not in observed]
    unexpected = [c for c in observed if c not in expected]
    success = not missing and (not unexpected or not kw.get("exact_match", True))
    mismatched = {k: v for k, v in (("missing", missing), ("unexpected", unexpected)) if v}
    return success, {"observed_value": sorted(observed), "details": {"mismatched": mismatched} if mismatched else {}}


def _row_count(frame, kw, ctx):
    rows = len(frame)
    low, high = kw.get("min_value"), kw.get("max_value")
    return (low is None or rows >= low) and (high is None or rows <= high), {"observed_value": rows}


def _not_null(frame, kw, ctx):
    column = frame[kw["column"]]
    return _map_result(frame, kw["column"], column.isna().to_numpy(), len(column), kw.get("mostly"), ctx["id"])


def _unique(frame, kw, ctx):
    column = frame[kw["column"]]
    present = column.notna().to_numpy()
    duplicated = column.duplicated(keep=False).to_numpy() & present
    return _map_result(frame, kw["column"], duplicated, int(present.sum()), kw.get("mostly"), ctx["id"])


# The numeric dtype family: any signed or unsigned int, float, or pandas nullable number (what suites accept).
# Nullable ones by their class name, the name GX's type check resolves (it does not know "Int64").
NUMERIC_TYPES = [*(f"{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)),
                 *(f"{kind}{bits}Dtype" for kind in ("Int", "UInt") for bits in (8, 16, 32, 64)),
                 "float16", "float32", "float64", "Float32Dtype", "Float64Dtype"]
_NUMERIC_NAMES = set(NUMERIC_TYPES)


def _value_type_ok(type_list: list[str]) -> Callable[[Any], bool]:
    accepted: tuple[type, ...] = ()
    if _NUMERIC_NAMES & set(type_list):
        accepted += (int, float, np.integer, np.floating)
    if {"str", "string", "object"} & set(type_list):
        accepted += (str,)
    if any(t.startswith("datetime64") for t in type_list):
        accepted += (dt.datetime, np.datetime64)
    return lambda v: isinstance(v, accepted) and not isinstance(v, bool | np.bool_)


def dtype_in(dtype, type_list: list[str]) -> bool:
    """Is a (non-object) dtype named in a suite's type list, by its name ("int64") or its class ("Int64Dtype")?"""
    return str(dtype) in type_list or type(dtype).__name__ in type_list or (
        isinstance(dtype, pd.StringDtype) and "string" in type_list)


def _type_list(frame, kw, ctx):
    column = frame[kw["column"]]
    type_list = kw["type_list"]
    if column.dtype != object:
        return dtype_in(column.dtype, type_list), {"observed_value": str(column.dtype)}
    present = column.notna().to_numpy()
    ok = _value_type_ok(type_list)
    inferred = pd.api.types.infer_dtype(column, skipna=True)  # one C pass; per value only for mixed columns
    if inferred in _ALL_OF_ONE_KIND and ok(_ALL_OF_ONE_KIND[inferred]):
        unexpected = np.zeros(len(column), bool)
    else:
        unexpected = present & ~_per_unique(column, ok)
    return _map_result(frame, kw["column"], unexpected, int(present.sum()), kw.get("mostly"), ctx["id"])


# pandas' inferred kind of an object column -> a value of that kind, for the type check of the whole column
_ALL_OF_ONE_KIND: dict[str, Any] = {"string": "a", "integer": 1, "floating": 1.0, "mixed-integer-float": 1.0,
                                    "datetime": dt.datetime(2000, 1, 1)}


def _per_unique(column: pd.Series, test: Callable[[Any], bool]) -> np.ndarray:
    """`test` of each row's value, evaluated once per distinct value (a categorical has a handful of them);
    missing values are False."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    verdicts = np.fromiter((bool(test(v)) for v in uniques), bool, len(uniques))
    return np.append(verdicts, False)[codes]  # code -1 (missing) picks the appended False


def naive_utc(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC, how suites and the lake compare them: a zone-aware column is converted to UTC
    (the instant kept), a naive one is taken to be UTC already."""
    return values.dt.tz_convert(None) if isinstance(values.dtype, pd.DatetimeTZDtype) else values


def _between(frame, kw, ctx):
    column = frame[kw["column"]]
    low, high = _resolve(kw.get("min_value"), ctx["parameters"]), _resolve(kw.get("max_value"), ctx["parameters"])
    if pd.api.types.is_datetime64_any_dtype(column):
        values = naive_utc(column)
        low = pd.Timestamp(low) if low is not None else None
        high = pd.Timestamp(high) if high is not None else None
    elif column.dtype == object:
        # Like GX: a value that is not a number cannot be in a numeric range.
        numbers = np.fromiter((isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in column),
                              bool, len(column))
        values = pd.to_numeric(column.where(numbers), errors="coerce")
        present = column.notna().to_numpy()
        outside = present & ~numbers
        return _range_mask(frame, kw, ctx, values, low, high, present, outside)
    else:
        values = pd.to_numeric(column, errors="coerce")
    present = values.notna().to_numpy()
    return _range_mask(frame, kw, ctx, values, low, high, present, np.zeros(len(values), bool))


def _range_mask(frame, kw, ctx, values: pd.Series, low, high, present: np.ndarray, outside: np.ndarray):
    known = values.notna().to_numpy()
    array = values.to_numpy()
    if low is not None:
        outside |= known & ~(array >= (low.to_datetime64() if isinstance(low, pd.Timestamp) else low))
    if high is not None:
        outside |= known & ~(array <= (high.to_datetime64() if isinstance(high, pd.Timestamp) else high))
    return _map_result(frame, kw["column"], outside, int(present.sum()), kw.get("mostly"), ctx["id"])


def _in_set(frame, kw, ctx):
    column = frame[kw["column"]]
    present = column.notna().to_numpy()
    outside = present & ~column.isin(kw["value_set"]).to_numpy()
    return _map_result(frame, kw["column"], outside, int(present.sum()), kw.get("mostly"), ctx["id"])


def _not_match_regex(frame, kw, ctx):
    column = frame[kw["column"]]
    present = column.notna().to_numpy()
    pattern = re.compile(kw["regex"])
    matches = present & _per_unique(column, lambda v: pattern.search(str(v)) is not None)
    return _map_result(frame, kw["column"], matches, int(present.sum()), kw.get("mostly"), ctx["id"])


def _unique_count(frame, kw, ctx):
    count = int(frame[kw["column"]].nunique(dropna=True))
    low, high = kw.get("min_value"), kw.get("max_value")
    return (low is None or count >= low) and (high is None or count <= high), {"observed_value": count}


EVALUATORS: dict[str, Callable] = {
    "expect_table_columns_to_match_set": _columns_match,
    "expect_table_row_count_to_be_between": _row_count,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_unique": _unique,
    "expect_column_values_to_be_in_type_list": _type_list,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_unique_value_count_to_be_between": _unique_count,
    "expect_column_values_to_not_match_regex": _not_match_regex,
}


def _fast_results(frame: pd.DataFrame, expectations: list[dict], id_column: str | None,
                  parameters: dict) -> list[tuple[dict, bool, dict, str | None]]:
    ctx = {"id": id_column, "parameters": parameters}
    results, for_gx = [], []
    for config in expectations:
        evaluate = EVALUATORS.get(config["type"])
        if evaluate is None:
            for_gx.append(config)
            continue
        column = config["kwargs"].get("column")
        if column is not None and column not in frame.columns:
            results.append((config, False, {}, f"column {column!r} is missing"))
            continue
        try:
            success, result = evaluate(frame, config["kwargs"], ctx)
        except (TypeError, ValueError) as error:  # e.g. values that cannot be compared at all
            results.append((config, False, {}, f"{type(error).__name__}: {error}"))
            continue
        results.append((config, bool(success), result, None))
    if for_gx:
        results += _gx_results(frame, for_gx, id_column, parameters)
    return results


def shown_safely(value: object) -> str:
    """A landed value quoted for a summary line: repr, with angle brackets as escapes (never markup)."""
    return repr(value).replace("<", "\\x3c").replace(">", "\\x3e")


def _hostile_column_names(frame: pd.DataFrame) -> list[dict]:
    """A column whose name carries markup or control characters fails the batch, whatever the suite says."""
    pattern = re.compile(MARKUP_OR_CONTROL)
    hostile = [str(name) for name in frame.columns if pattern.search(str(name))]
    if not hostile:
        return []
    return [to_jsonable({
        "expectation": "column_names_are_plain_text", "column": None, "severity": "critical",
        "expected": {"regex_not_matched": MARKUP_OR_CONTROL}, "observed": {"unexpected_count": len(hostile)},
        "sample": [shown_safely(name) for name in hostile[:SAMPLE_ROWS]], "exception": None,
        "summary": "schema: column names with markup or control characters: "
                   + ", ".join(shown_safely(name) for name in hostile[:3])})]


# --- streaming: a parquet file in chunks of rows ------------------------------------------------
_WHOLE_FILE = {"expect_table_columns_to_match_set", "expect_table_row_count_to_be_between",
               "expect_column_values_to_be_unique", "expect_column_unique_value_count_to_be_between"}


def _column_values(path, name: str, chunk_rows: int):
    """One column of a parquet file as numpy arrays of non-null values, chunk by chunk."""
    from modelguard.storage import iter_batches

    for batch in iter_batches(path, [name], chunk_rows):
        column = batch.column(0)
        yield column.drop_null().to_numpy(zero_copy_only=False), len(column)


def _column_facts(path, columns: set[str], chunk_rows: int = 250_000) -> dict[str, dict]:
    """Per column: distinct count and the values seen more than once, exactly, in memory of 8 bytes a row.

    Pass 1 hashes every value (64 bits) and finds the hashes seen more than once; pass 2, only if there are
    any, counts the actual values behind those hashes, so a hash collision never passes for a duplicate."""
    facts = {}
    for name in columns:
        parts, rows = [], 0
        for values, size in _column_values(path, name, chunk_rows):
            parts.append(pd.util.hash_array(values, categorize=False))
            rows += size
        hashes = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)
        del parts
        twice = hashes[1:][hashes[1:] == hashes[:-1]]
        distinct_hashes = int(len(hashes) - len(twice)) if len(hashes) else 0
        suspects = np.unique(twice)
        counts: dict = {}
        if suspects.size:
            for values, _ in _column_values(path, name, chunk_rows):
                hit = np.isin(pd.util.hash_array(values, categorize=False), suspects)
                for value in values[hit].tolist():
                    counts[value] = counts.get(value, 0) + 1
        repeated = [v for v, c in counts.items() if c > 1]
        # hashes seen twice stand for one value each, unless a collision hid several values behind one hash
        collided = len(counts) - len(suspects)
        facts[name] = {"distinct": distinct_hashes + collided, "repeated": repeated,
                       "repeated_rows": sum(counts[v] for v in repeated), "present": len(hashes), "rows": rows}
        del hashes, twice
    return facts


def _merge_map(total: dict | None, part: dict) -> dict:
    if total is None:
        return dict(part)
    merged = {k: total.get(k, 0) + part.get(k, 0) for k in ("element_count", "unexpected_count", "_considered")}
    for key in ("partial_unexpected_list", "partial_unexpected_index_list"):
        if key in total or key in part:
            merged[key] = (total.get(key, []) + part.get(key, []))[:SAMPLE_ROWS]
    return merged


def _finish_map(result: dict, mostly: float | None) -> tuple[bool, dict]:
    success, share = _mostly(result["unexpected_count"], result.pop("_considered", 0), mostly)
    result["unexpected_percent"] = 100 * share
    return success, result


def validate_parquet(path, suite: dict, id_column: str | None = None, parameters: dict | None = None,
                     chunk_rows: int = 250_000) -> ValidationResult:
    """`validate` of a parquet file read `chunk_rows` rows at a time, with the same verdicts: memory holds one
    chunk (and, for uniqueness and distinct counts, one column in Arrow form), whatever the file's size.
    A suite with an expectation only GX knows is validated on the whole frame, as `validate` does."""
    import pyarrow.parquet as pq

    from modelguard.storage import iter_chunks

    expectations = suite["expectations"]
    parameters = parameters or {}
    if any(e["type"] not in EVALUATORS for e in expectations):
        return validate(pd.read_parquet(path), suite, id_column, parameters)
    names = pq.ParquetFile(path).schema_arrow.names
    header = pd.DataFrame(columns=names)
    whole = {e["kwargs"]["column"] for e in expectations
             if e["type"] in ("expect_column_values_to_be_unique", "expect_column_unique_value_count_to_be_between")
             and e["kwargs"].get("column") in names}
    facts = _column_facts(path, whole)
    ctx = {"id": id_column, "parameters": parameters}
    # every expectation outside _WHOLE_FILE that the fast engine knows is about one column
    per_chunk = [i for i, e in enumerate(expectations) if e["type"] not in _WHOLE_FILE and e["kwargs"]["column"] in names]
    totals: dict[int, dict | None] = dict.fromkeys(per_chunk)
    plain: dict[int, tuple[bool, dict]] = {}  # expectations whose chunks each give a verdict (dtype checks)
    errors: dict[int, str] = {}
    rows = 0
    wanted = [c for c in names if c in {e["kwargs"].get("column") for e in expectations} or c == id_column]
    for chunk in iter_chunks(path, wanted or names[:1], rows=chunk_rows):
        rows += len(chunk)
        for index in per_chunk:
            if index in errors:
                continue
            config = expectations[index]
            try:
                success, result = EVALUATORS[config["type"]](chunk, config["kwargs"], ctx)
            except (TypeError, ValueError) as error:
                errors[index] = f"{type(error).__name__}: {error}"
                continue
            if "_considered" in result:
                totals[index] = _merge_map(totals[index], result)
            elif index not in plain or (plain[index][0] and not success):
                plain[index] = (bool(success), result)  # the first failing chunk's observation stands
    results = []
    for index, config in enumerate(expectations):
        kwargs, kind = config["kwargs"], config["type"]
        column = kwargs.get("column")
        if kind == "expect_table_columns_to_match_set":
            success, result = _columns_match(header, kwargs, ctx)
        elif kind == "expect_table_row_count_to_be_between":
            success, result = _row_count(pd.DataFrame(index=pd.RangeIndex(rows)), kwargs, ctx)
        elif column is not None and column not in names:
            results.append((config, False, {}, f"column {column!r} is missing"))
            continue
        elif kind == "expect_column_unique_value_count_to_be_between":
            count, low, high = facts[column]["distinct"], kwargs.get("min_value"), kwargs.get("max_value")
            success, result = (low is None or count >= low) and (high is None or count <= high), {"observed_value": count}
        elif kind == "expect_column_values_to_be_unique":
            success, result = _unique_from_facts(path, facts[column], column, kwargs, id_column, chunk_rows)
        elif index in errors:
            results.append((config, False, {}, errors[index]))
            continue
        elif totals.get(index) is not None:
            success, result = _finish_map(totals[index], kwargs.get("mostly"))
        elif index in plain:
            success, result = plain[index]
        else:  # no rows at all: the map expectation has nothing to fail on
            success, result = _finish_map({"element_count": 0, "unexpected_count": 0, "_considered": 0},
                                          kwargs.get("mostly"))
        results.append((config, bool(success), result, None))
    return _result(header, results)


def _unique_from_facts(path, facts: dict, column: str, kwargs: dict, id_column: str | None, chunk_rows: int
                       ) -> tuple[bool, dict]:
    """GX's uniqueness result from whole-column facts; sample rows are found in a second, chunked read only
    when there are duplicates."""
    from modelguard.storage import iter_chunks

    result = {"element_count": facts["rows"], "unexpected_count": facts["repeated_rows"], "_considered": facts["present"]}
    if facts["repeated_rows"]:
        repeated = set(facts["repeated"])
        samples, index_samples = [], []
        columns = [column, *([id_column] if id_column and id_column != column else [])]
        for chunk in iter_chunks(path, columns, rows=chunk_rows):
            hit = chunk[chunk[column].isin(repeated)].head(SAMPLE_ROWS - len(samples))
            samples += hit[column].tolist()
            if id_column and id_column in chunk:
                index_samples += [{column: v, id_column: i} for v, i in zip(hit[column], hit[id_column], strict=True)]
            if len(samples) >= SAMPLE_ROWS:
                break
        result["partial_unexpected_list"] = samples
        if index_samples:
            result["partial_unexpected_index_list"] = index_samples
    return _finish_map(result, kwargs.get("mostly"))


def _result(frame: pd.DataFrame, results: list) -> ValidationResult:
    failures, warnings = _hostile_column_names(frame), []
    for config, success, result, exception in results:
        if success:
            continue
        entry = _entry(config, result, exception)
        (failures if entry["severity"] == "critical" else warnings).append(entry)
    failures.sort(key=lambda f: f["column"] is not None)  # schema and table problems first: they explain the rest
    return ValidationResult(accepted=not failures, failures=failures, warnings=warnings, evaluated=len(results))


def validate(frame: pd.DataFrame, suite: dict, id_column: str | None = None, parameters: dict | None = None,
             engine: str = "fast") -> ValidationResult:
    """Evaluate a GX suite (JSON) on a frame; critical failures reject it."""
    expectations = suite["expectations"]
    parameters = parameters or {}
    if engine == "gx":
        results = _gx_results(frame, expectations, id_column, parameters)
    elif engine == "fast":
        results = _fast_results(frame, expectations, id_column, parameters)
    else:
        raise ValueError(f"unknown validation engine {engine!r}")
    return _result(frame, results)

"""A corpus of bad inputs: each turns a good day's batch into a broken file an upstream could send.

Each case: name -> (writer, fault) where writer(frame, path_without_suffix) writes the broken file
and returns its path, and `fault` is a phrase the quarantine reason must contain.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

Writer = Callable[[pd.DataFrame, Path], Path]


def _parquet(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Writer:
    def write(frame: pd.DataFrame, base: Path) -> Path:
        path = base.with_suffix(".parquet")
        change(frame.copy()).to_parquet(path, index=False)
        return path

    return write


def _csv(change: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f, encoding: str = "utf-8",
         edit: Callable[[str], str] = lambda text: text) -> Writer:
    def write(frame: pd.DataFrame, base: Path) -> Path:
        path = base.with_suffix(".csv")
        path.write_bytes(edit(change(frame.copy()).to_csv(index=False)).encode(encoding))
        return path

    return write


def _bytes(make: Callable[[bytes], bytes]) -> Writer:
    def write(frame: pd.DataFrame, base: Path) -> Path:
        path = base.with_suffix(".parquet")
        good = base.with_suffix(".tmp.parquet")
        frame.to_parquet(good, index=False)
        path.write_bytes(make(good.read_bytes()))
        good.unlink()
        return path

    return write


def _set(column: str, value_of: Callable[[pd.DataFrame], object]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = value_of(frame)
        return frame

    return change


def _some(column: str, share: float, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        rows = np.random.default_rng(0).random(len(frame)) < share
        frame[column] = frame[column].astype(object) if not isinstance(value, float) else frame[column]
        frame.loc[rows, column] = value
        return frame

    return change


def _latin1(text: str) -> str:
    lines = text.splitlines()
    lines[1] = lines[1].replace("grocery", "épicerie").replace("fuel", "café")
    lines[2] = lines[2].replace(",", ",é", 1)
    return "\n".join(lines) + "\n"


SCRIPT_PAYLOAD = "</script><script>document.title='pwned'</script><img src=x onerror=alert(1)>"

CASES: dict[str, tuple[Writer, str]] = {
    "empty_file": (_bytes(lambda good: b""), "empty"),
    "truncated_parquet": (_bytes(lambda good: good[: len(good) // 2]), "cannot read"),
    "garbage_bytes": (_bytes(lambda good: b"PAR1" + bytes(range(256)) * 8), "cannot read"),
    "zero_rows": (_parquet(lambda f: f.iloc[:0]), "expect_table_row_count_to_be_between"),
    "csv_header_only": (_csv(lambda f: f.iloc[:0]), "expect_table_row_count_to_be_between"),
    "non_utf8_csv": (_csv(encoding="latin-1", edit=_latin1), "not UTF-8"),
    "ragged_csv": (_csv(edit=lambda t: t.replace("\n", ",1,2,3\n", 3).replace(",1,2,3\n", "\n", 2)), "malformed CSV"),
    "unparseable_timestamps_csv": (_csv(edit=lambda t: t.replace("2026-", "someday-", 5)), "are not timestamps"),
    "missing_column": (_parquet(lambda f: f.drop(columns=["merchant_category"])), "missing columns merchant_category"),
    "renamed_column": (_parquet(lambda f: f.rename(columns={"amount": "amount_usd"})), "missing columns amount"),
    "strings_in_numeric": (_csv(_some("amount", 0.2, "unknown")), "column 'amount': expect_column_values_to_be_in_type_list"),
    "numbers_sent_as_text": (_parquet(_set("tx_count_24h", lambda f: f["tx_count_24h"].astype(str))),
                             "column 'tx_count_24h': expect_column_values_to_be_in_type_list"),
    "infinite_amounts": (_parquet(_some("amount", 0.05, float("inf"))), "column 'amount': expect_column_values_to_be_between"),
    "negative_amounts": (_parquet(_set("amount", lambda f: -f["amount"] - 1000)), "column 'amount': expect_column_values_to_be_between"),
    "amounts_in_cents": (_parquet(_set("amount", lambda f: f["amount"] * 100)), "column 'amount': expect_column_values_to_be_between"),
    "hour_out_of_range": (_parquet(_set("hour", lambda f: f["hour"] + 30)), "column 'hour': expect_column_values_to_be_between"),
    "null_storm": (_parquet(_some("customer_age", 0.6, np.nan)), "column 'customer_age': expect_column_values_to_not_be_null"),
    "all_null_column": (_parquet(_set("device_type", lambda f: None)), "column 'device_type'"),
    "duplicate_ids": (_parquet(_set("transaction_id", lambda f: f["transaction_id"].where(f.index % 3 != 0, f["transaction_id"].iloc[0]))),
                      "column 'transaction_id': expect_column_values_to_be_unique"),
    "null_ids": (_parquet(_some("transaction_id", 0.01, None)), "column 'transaction_id': expect_column_values_to_not_be_null"),
    "stuck_sensor": (_parquet(_set("distance_from_home_km", lambda f: 0.0)),
                     "column 'distance_from_home_km': expect_column_unique_value_count_to_be_between"),
    "timestamps_in_the_future": (_parquet(_set("event_time", lambda f: f["event_time"] + pd.Timedelta(days=400))),
                                 "column 'event_time': expect_column_values_to_be_between"),
    "timestamps_of_another_day": (_parquet(_set("event_time", lambda f: f["event_time"] - pd.Timedelta(days=1))),
                                  "column 'event_time': expect_column_values_to_be_between"),
    "timestamps_as_text": (_parquet(_set("event_time", lambda f: f["event_time"].astype(str))),
                           "column 'event_time': expect_column_values_to_be_in_type_list"),
    "null_timestamps": (_parquet(_some("event_time", 0.1, None)), "column 'event_time': expect_column_values_to_not_be_null"),
    "categories_as_codes": (_parquet(_set("channel", lambda f: f["channel"].astype("category").cat.codes.astype("int64"))),
                            "column 'channel': expect_column_values_to_be_in_type_list"),
    # Another encoding of the same column: every value unknown to the reference (new codes, not new categories)
    "categories_recoded": (_parquet(_set("channel", lambda f: "C" + f["channel"].astype("category").cat.codes.astype(str))),
                           "column 'channel': expect_column_values_to_be_in_set"),
    "too_few_rows": (_parquet(lambda f: f.iloc[:20]), "expect_table_row_count_to_be_between"),
    "booleans_for_counts": (_parquet(_set("tx_count_24h", lambda f: f["tx_count_24h"] > 2)),
                            "column 'tx_count_24h': expect_column_values_to_be_in_type_list"),
    # Script injection through the data: a category and a column name carrying markup.
    "script_in_a_category": (_parquet(_some("merchant_category", 0.02, SCRIPT_PAYLOAD)),
                             "column 'merchant_category': expect_column_values_to_not_match_regex"),
    "script_in_a_column_name": (_parquet(lambda f: f.assign(**{SCRIPT_PAYLOAD: "x"})),
                                "column names with markup or control characters"),
    "control_characters_in_a_category": (_parquet(_some("channel", 0.01, "web\x1b[2J")),
                                         "column 'channel': expect_column_values_to_not_match_regex"),
}

"""The batch lake: where every file of the pipeline lives, and the only module that writes them.

Layout (under `storage.root`, see DESIGN.md):
    reference/train.parquet, landing/batches/<batch_id>.parquet|csv, landing/labels/<batch_id>.*,
    validated/batches|labels/<batch_id>.parquet, quarantine/<batch_id>/..., predictions/<batch_id>.parquet,
    reports/<batch_id>/..., metrics/performance.parquet, metrics/guardrail/*.json, expectations/*.json,
    decisions.jsonl, challengers/<model_version>/sequence.parquet

Every write goes to a temp file in the same folder and is renamed into place, so a reader never
sees half a file and a rerun replaces the day's output instead of adding to it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modelguard.batch_days import is_batch_id, parse_batch_id

BATCH_SUFFIXES = (".parquet", ".csv")


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from numpy / pandas values (GX and Evidently results carry numpy scalars)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def iter_batches(path: Path, columns: list[str], rows: int = 100_000) -> Iterator:
    """A parquet file as Arrow record batches of about `rows` rows, read one at a time. No pre-buffering:
    with it, Arrow reads every column chunk of the file ahead (a 10M-row file: 2.6 GB instead of 0.3 GB)."""
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path, pre_buffer=False)
    yield from handle.iter_batches(batch_size=rows, columns=list(dict.fromkeys(columns)))


def iter_chunks(path: Path, columns: list[str], rows: int = 100_000) -> Iterator:
    """A parquet file as frames of about `rows` rows, read one at a time (bounded memory for any size)."""
    for batch in iter_batches(path, columns, rows):
        yield batch.to_pandas()


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a file created or renamed into it) survive a power loss."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path next to `target`; on success it is renamed over `target`, unless the caller
    removed it (a write it decided not to make).

    Durable: the temp file's data reach the disk before the rename, and the folder's entry after it, so a
    power loss leaves the old file or the new one, never an empty or half-written one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            _fsync_file(tmp_path)
            os.replace(tmp_path, target)
            fsync_dir(target.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def append_line(path: Path, line: str) -> None:
    """Append one line to `path` durably, in one write: the caller holds the file's lock.

    O_APPEND and a single write(2) per line; fsync before returning, and the folder too when the file is
    created. A writer killed inside its write(2) can leave at most an unterminated tail (the kernel copies
    a write page by page); that line was never acknowledged, and the next append cuts it off first, so
    the file holds whole lines only."""
    data = (line.rstrip("\n") + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":  # a torn tail of a killed writer: keep only whole lines
                    handle.seek(0)
                    whole = handle.read().rfind(b"\n") + 1
                    os.ftruncate(fd, whole)
        written = os.write(fd, data)
        if written != len(data):  # a full disk: never leave a torn line behind
            os.ftruncate(fd, os.fstat(fd).st_size - written)
            raise OSError(f"could not append to {path}: wrote {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def _day_stems(folder: Path) -> list[str]:
    """The batch days of a folder's `<day>.parquet` files."""
    return sorted(p.stem for p in folder.glob("*.parquet") if is_batch_id(p.stem)) if folder.is_dir() else []


class Lake:
    """Paths and atomic reads/writes of the batch lake rooted at `root`."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    @staticmethod
    def _day(batch_id: str) -> str:
        """The one guard of every path named by a batch id: a batch day (YYYY-MM-DD) or a ValueError naming
        the value. Anything else (`../reference/train`, `/etc/passwd`) would name a file outside the day's."""
        parse_batch_id(batch_id)
        return batch_id

    # --- paths -------------------------------------------------------------------------------
    @property
    def reference_train(self) -> Path:
        return self.root / "reference" / "train.parquet"

    @property
    def reference_profile(self) -> Path:
        return self.root / "reference" / "profile.json"

    @property
    def reference_scored(self) -> Path:
        """Reference rows with the first champion's scores: the baseline for prediction drift."""
        return self.root / "reference" / "scored.parquet"

    def expectation_suite(self, kind: str) -> Path:
        return self.root / "expectations" / f"{kind}_suite.json"

    def landing(self, kind: str, batch_id: str) -> Path | None:
        """The landed file of a batch (`kind` is batches or labels), parquet preferred over CSV."""
        for suffix in BATCH_SUFFIXES:
            path = self.root / "landing" / kind / f"{self._day(batch_id)}{suffix}"
            if path.exists():
                return path
        return None

    def landed_ids(self, kind: str) -> list[str]:
        folder = self.root / "landing" / kind
        if not folder.is_dir():
            return []
        # only day-named files are batches: a stray `notes.csv` is no day (and no path is built from it)
        return sorted({p.stem for p in folder.iterdir() if p.suffix in BATCH_SUFFIXES and is_batch_id(p.stem)})

    def validated(self, kind: str, batch_id: str) -> Path:
        return self.root / "validated" / kind / f"{self._day(batch_id)}.parquet"

    def validated_ids(self, kind: str) -> list[str]:
        folder = self.root / "validated" / kind
        return _day_stems(folder)

    def quarantine_dir(self, batch_id: str, kind: str = "batches") -> Path:
        base, day = self.root / "quarantine", self._day(batch_id)
        return base / day if kind == "batches" else base / kind / day

    def predictions(self, batch_id: str) -> Path:
        return self.root / "predictions" / f"{self._day(batch_id)}.parquet"

    def prediction_ids(self) -> list[str]:
        return _day_stems(self.root / "predictions")

    def report_dir(self, batch_id: str) -> Path:
        return self.root / "reports" / self._day(batch_id)

    def challenger_sequence(self, version: str) -> Path:
        """The rows a challenger is judged on, in order (day, id, label as judged): fixed at registration and
        only ever extended, so every look of its anytime-valid comparison is on one growing sequence."""
        return self.root / "challengers" / str(int(version)) / "sequence.parquet"

    def guardrail_evidence(self, version: str, since: str | None) -> Path:
        """The rollback guardrail's e-processes over one champion's tenure (its version, the day it began serving)."""
        return self.root / "metrics" / "guardrail" / f"v{version}_{since or 'start'}.json"

    @property
    def performance_table(self) -> Path:
        return self.root / "metrics" / "performance.parquet"

    @property
    def health_table(self) -> Path:
        """Tidy (batch_id, metric, value): drift share, predicted positive rate, estimated and realized metrics."""
        return self.root / "metrics" / "health.parquet"

    @property
    def decisions_log(self) -> Path:
        return self.root / "decisions.jsonl"

    @property
    def simulation_dir(self) -> Path:
        return self.root / "simulation"

    # --- atomic writes -----------------------------------------------------------------------
    def write_parquet(self, frame, path: Path) -> Path:
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
        return path

    def write_json(self, payload: Any, path: Path) -> Path:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(to_jsonable(payload), indent=2, sort_keys=True))
        return path

    def write_text(self, text: str, path: Path) -> Path:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")  # not the locale's: reports and markdown carry any text
        return path

    def copy_file(self, source: Path, target: Path) -> Path:
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return target

    @staticmethod
    def read_parquet_rows(path: Path, columns: list[str], sample_rows: int | None = None, seed: int = 0):
        """`columns` of a parquet file as a frame; with `sample_rows`, only the rows that
        `DataFrame.sample(sample_rows, random_state=seed)` would pick, in its order, converted alone:
        a drift sample of a 1M-row batch costs 5,000 rows of Python objects, not 1M."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(path)
        total = handle.metadata.num_rows
        if sample_rows is None or total <= sample_rows:
            return handle.read(columns=columns).to_pandas()
        picked = np.random.RandomState(seed).choice(total, size=sample_rows, replace=False)
        # one row group at a time: memory holds a row group and the sample, whatever the file's size
        order = np.argsort(picked, kind="stable")
        ascending = picked[order]
        parts, start = [], 0
        for group in range(handle.num_row_groups):
            rows = handle.metadata.row_group(group).num_rows
            lo, hi = np.searchsorted(ascending, [start, start + rows])
            if hi > lo:
                parts.append(handle.read_row_group(group, columns=columns).take(ascending[lo:hi] - start))
            start += rows
        table = pa.concat_tables(parts)
        return table.take(np.argsort(order, kind="stable")).to_pandas()  # back to the sampled order

    @staticmethod
    def read_json(path: Path, default: Any = None) -> Any:
        return json.loads(path.read_text()) if path.exists() else default

    def lock_path(self, name: str) -> Path:
        """The file an exclusive lock `name` is taken on (`locked`, the alias lock)."""
        return self.root / ".locks" / f"{name}.lock"

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """An exclusive lock, so that two tasks updating one shared file never interleave."""
        lock = self.lock_path(name)
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def upsert_rows(self, path: Path, frame, key: list[str]):
        """Replace the rows of `frame`'s keys in the table at `path` (rerun -> same table)."""
        import pandas as pd

        with self.locked(path.stem):
            if path.exists():
                old = pd.read_parquet(path)
                keys = frame[key].drop_duplicates()
                merged = old.merge(keys, on=key, how="left", indicator=True)
                old = old[(merged["_merge"] == "left_only").to_numpy()]
                frame = pd.concat([old, frame], ignore_index=True)
            frame = frame.sort_values(key, kind="stable").reset_index(drop=True)
            self.write_parquet(frame, path)
        return frame

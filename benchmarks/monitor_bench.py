"""Monitoring speed and memory for one big batch: our validate + score + drift against the library
default way and against a numpy floor, side by side in one run on the same generated data.

    .venv/bin/python benchmarks/monitor_bench.py [--rows 1000000]

- ours: the fast validation engine on the full batch, the champion's scores, and `drift.measure_drift`
  (Evidently on `drift.sample_rows` sampled rows per side) plus its HTML report, as the DAG tasks do.
- library default: the same GX suite validated by GX on the full batch, the champion's scores, and
  Evidently's `DataDriftPreset` on the full batch and the full reference (no HTML).
- numpy floor: one plain pass computing the same statistics on the full data (the validation
  statistics, the champion's scores, normed Wasserstein distances and Jensen-Shannon distances).

Each way runs in its own process so its peak RSS is its own; the data are regenerated there from the
same seeds. Goal (issue #4): ours <= 1/4 of the library default, peak RSS < 3 GB, and the same
per-column drift verdict as full-data Evidently on >= 95% of columns.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from modelguard import model
from modelguard.config import PipelineConfig, parse_config
from modelguard.suites import batch_parameters, build_batch_suite
from modelguard.validation import validate

DAY = "2026-09-01"
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SCORE = "score"
# The batch's known shifts; every other column keeps the reference's distribution.
SHIFTS = {"num_00": ("mean", 0.5), "num_03": ("spread", 1.4), "num_06": ("mean", 0.2), "num_09": ("mean", 0.03),
          "cat_1": ("new_level", 0.25)}


def make_frame(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.lognormal(i % 5, 0.5, rows) for i, name in enumerate(NUMERIC)})
    for i, name in enumerate(CATEGORICAL):
        frame[name] = rng.choice([f"level_{j}" for j in range(5 + 5 * i)], rows)
    if shifted:
        for column, (kind, size) in SHIFTS.items():
            values = frame[column]
            if kind == "mean":
                frame[column] = values + size * values.std()
            elif kind == "spread":
                frame[column] = values.mean() + size * (values - values.mean())
            else:
                frame.loc[rng.random(rows) < size, column] = "level_new"
    risk = (np.log(frame["num_00"]) - 0.5 * np.log(frame["num_01"]) + (frame["cat_0"] == "level_1") * 1.5
            + 0.3 * np.log(frame["num_02"]) - 3.5)
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-risk))).astype("int64")
    frame.insert(0, "row_id", np.arange(rows).astype(str))
    seconds = np.sort(rng.integers(0, 86_400, rows))
    frame.insert(1, "event_time", pd.Timestamp(DAY) + pd.to_timedelta(seconds, unit="s"))
    return frame


def bench_config(rows: int) -> PipelineConfig:
    return parse_config({"model": {"name": "bench", "target": "y", "id_column": "row_id",
                                   "timestamp_column": "event_time",
                                   "features": {"numeric": NUMERIC, "categorical": CATEGORICAL}},
                         "validation": {"max_rows": 10 * rows}}, base_dir=Path.cwd())


def prepare(rows: int):
    """Batch, reference (scored by the champion trained on it), suite; not timed."""
    config = bench_config(rows)
    reference = make_frame(50_000, 2, shifted=False)
    champion = model.fit(config.model, reference)
    reference[SCORE] = model.predict_scores(champion, config.model, reference)
    suite = build_batch_suite(reference, config)
    batch = make_frame(rows, 1, shifted=True).drop(columns=["y"])
    return config, batch, reference, champion, suite


def ours(config, batch, reference, champion, suite, workdir: Path) -> dict:
    from modelguard.drift import measure_drift

    accepted = validate(batch, suite, "row_id", batch_parameters(DAY)).accepted
    batch[SCORE] = model.predict_scores(champion, config.model, batch)
    snapshot, verdicts, _ = measure_drift(batch, reference, [*NUMERIC, SCORE], CATEGORICAL, config.drift, seed=1)
    snapshot.save_html(str(workdir / "ours_drift.html"))
    return {"accepted": accepted, "verdicts": {c: v["drifted"] for c, v in verdicts.items()}}


def library_default(config, batch, reference, champion, suite, workdir: Path) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from modelguard.drift import column_verdicts

    accepted = validate(batch, suite, "row_id", batch_parameters(DAY), engine="gx").accepted
    batch[SCORE] = champion.predict_proba(batch[config.model.features.all])[:, 1]
    columns = [*NUMERIC, SCORE, *CATEGORICAL]
    definition = DataDefinition(numerical_columns=[*NUMERIC, SCORE], categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(batch[columns], data_definition=definition),
                                               Dataset.from_pandas(reference[columns], data_definition=definition))
    return {"accepted": accepted, "verdicts": {c: v["drifted"] for c, v in column_verdicts(snapshot.dict()).items()}}


def numpy_floor(config, batch, reference, champion, suite, workdir: Path) -> dict:
    from validation_bench import pandas_floor

    pandas_floor(batch, suite)
    batch[SCORE] = model.predict_scores(champion, config.model, batch)
    verdicts = {}
    for column in [*NUMERIC, SCORE]:
        # Wasserstein-1 between the two empirical distributions on a common grid of quantiles, normed by the
        # reference's std, as Evidently norms it
        qs = np.linspace(0, 1, 2001)
        a, b = np.quantile(batch[column].to_numpy(), qs), np.quantile(reference[column].to_numpy(), qs)
        verdicts[column] = bool(np.abs(a - b).mean() / reference[column].std() >= config.drift.num_threshold)
    for column in CATEGORICAL:
        p = batch[column].value_counts(normalize=True)
        q = reference[column].value_counts(normalize=True)
        p, q = p.reindex(p.index.union(q.index), fill_value=0), q.reindex(p.index.union(q.index), fill_value=0)
        m = (p + q) / 2
        divergence = 0.5 * (p[p > 0] * np.log(p[p > 0] / m[p > 0])).sum() + 0.5 * (q[q > 0] * np.log(q[q > 0] / m[q > 0])).sum()
        verdicts[column] = bool(np.sqrt(divergence / np.log(2)) >= config.drift.cat_threshold)
    return {"accepted": None, "verdicts": verdicts}


WAYS = {"numpy floor": numpy_floor, "ours": ours, "library default": library_default}


def run_one(way: str, rows: int, out: Path) -> None:
    from modelguard.runtime import quiet_libraries

    quiet_libraries()
    import evidently  # noqa: F401 - imports are not part of the timing
    import great_expectations  # noqa: F401

    config, batch, reference, champion, suite = prepare(rows)
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        result = WAYS[way](config, batch, reference, champion, suite, Path(workdir))
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps({**result, "seconds": seconds, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=list(WAYS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        run_one(args.only, args.rows, args.out)
        return

    print(f"batch: {args.rows:,} rows x 25 features (20 numeric, 5 categorical) + id + timestamp; "
          f"reference 50,000 rows; known shifts: {', '.join(f'{c} {k} {s}' for c, (k, s) in SHIFTS.items())}")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for way in WAYS:
            out = Path(folder) / f"{way}.json"
            subprocess.run([sys.executable, __file__, "--only", way, "--rows", str(args.rows), "--out", str(out)],
                           check=True)
            results[way] = json.loads(out.read_text())
            print(f"  {way}: {results[way]['seconds']:.1f} s", flush=True)
    floor, default, mine = results["numpy floor"], results["library default"], results["ours"]
    print(f"\n{'way':<18}{'seconds':>9}{'x floor':>9}{'peak RSS MB':>13}")
    for way, result in results.items():
        print(f"{way:<18}{result['seconds']:>9.1f}{result['seconds'] / floor['seconds']:>9.2f}{result['peak_mb']:>13,.0f}")
    columns = sorted(default["verdicts"])
    same = [c for c in columns if mine["verdicts"].get(c) == default["verdicts"][c]]
    differ = [c for c in columns if c not in same]
    share = len(same) / len(columns)
    ratio = mine["seconds"] / default["seconds"]
    print(f"\nours / library default: {ratio:.3f} ({1 / ratio:.1f}x faster); same validation verdict: "
          f"{mine['accepted'] == default['accepted']}")
    print(f"drift verdicts equal to full-data Evidently: {len(same)}/{len(columns)} columns ({share:.0%})"
          + (f"; differ: {', '.join(differ)}" if differ else ""))
    print(f"drifted (full-data Evidently): {', '.join(c for c in columns if default['verdicts'][c]) or 'none'}")
    goals = {"ours <= 1/4 of library default": ratio <= 0.25, "peak RSS < 3 GB": mine["peak_mb"] < 3 * 1024,
             ">= 95% same drift verdicts": share >= 0.95}
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()

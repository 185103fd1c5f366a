"""Re-checks of an undecided challenger never jam, and keep one sequence: the rows it is judged on are fixed
when it is registered and only extended, and a day of them that is retracted ends its evaluation with a line.

Real lake (simulated days, GX validation), real MLflow registry (SQLite store); the challenge DAG itself runs
with `dag.test`, as the replay runs it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelguard import challenge as challenge_module
from modelguard import decisions
from modelguard.challenge import challenge, recheck
from modelguard.config import load_config
from modelguard.ingest import ingest_batch, ingest_labels
from modelguard.monitor import assess
from modelguard.performance import measure_performance
from modelguard.registry import CHALLENGER, Registry
from modelguard.score import score_batch
from modelguard.storage import Lake
from tests.conftest import PROJECT, simulated_lake

DAYS = [(dt.date(2026, 9, 1) + dt.timedelta(days=i)).isoformat() for i in range(7)]
SECTIONS = {
    "challenger": {"window_days": 3, "holdout_days": 1, "min_rows": 500, "every_days": 1, "bootstrap_rounds": 50},
    "policy": {"performance_window_days": 1, "cooldown_days": 0, "max_metric_drop": 0.5},  # few positives: no noise alerts
    "validation": {"min_rows": 50},
}


def _labels_arrive(config, day: str, on_day: str) -> None:
    lake = Lake(config.storage_root)
    lake.copy_file(lake.simulation_dir / "labels" / f"{day}.parquet", lake.root / "landing" / "labels" / f"{day}.parquet")
    ingest_labels(config, on_day)
    measure_performance(config, on_day)


def _evaluating_challenger(config, day: str) -> str:
    """A challenger registered on `day`, held undecided (ahead, not proven yet), as the re-checks find it."""
    result = challenge(config, day, trigger="manual")
    assert result["status"] == "registered", result
    registry = Registry(config)
    registry.set_tags(result["version"], {"approval": "evaluating"})
    assert registry.aliases()[CHALLENGER] == result["version"]
    return result["version"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, str]:
    """Days 1..6 accepted and scored, labels of days 1..4 in; a challenger trained on 1..3, judged on day 4."""
    folder = tmp_path_factory.mktemp("recheck-template")
    config, _ = simulated_lake(folder, len(DAYS), [], rows=1000, **SECTIONS)
    for day in DAYS[:6]:
        ingest_batch(config, day)
        score_batch(config, day)
    for day in DAYS[:4]:
        _labels_arrive(config, day, DAYS[3])
    version = _evaluating_challenger(config, DAYS[3])
    assert Lake(config.storage_root).challenger_sequence(version).exists()
    return folder, version


@pytest.fixture
def lake_config(template, tmp_path: Path):
    """A fresh copy of the template (lake and registry) for each test."""
    folder, version = template
    shutil.copytree(folder, tmp_path / "copy")
    return load_config(tmp_path / "copy" / "pipeline.yaml"), version


def test_a_late_day_or_corrected_labels_never_change_the_rows_already_judged(lake_config, monkeypatch) -> None:
    config, version = lake_config
    lake, key, target = Lake(config.storage_root), config.model.id_column, config.model.target
    looks: list[pd.DataFrame] = []
    compare = challenge_module._compare

    def judged(config_, registry, champion, estimator, rows):  # records what each look was judged on
        looks.append(rows[["_batch_id", key, target]].reset_index(drop=True))
        return compare(config_, registry, champion, estimator, rows)

    monkeypatch.setattr(challenge_module, "_compare", judged)
    registered = pd.read_parquet(lake.challenger_sequence(version))
    assert set(registered["_batch_id"]) == {DAYS[3]}

    _labels_arrive(config, DAYS[5], DAYS[5])  # day 6's labels come first; day 5's are late
    assert recheck(config, DAYS[5])["status"] == "rechecked"
    first = looks[-1]
    assert list(dict.fromkeys(first["_batch_id"])) == [DAYS[3], DAYS[5]]
    Registry(config).set_tags(version, {"approval": "evaluating"})  # still undecided after that look

    # Day 5's labels arrive late (a day inserted in the middle), day 4's labels are corrected, day 7 comes in.
    corrected = pd.read_parquet(lake.validated("labels", DAYS[3]))
    corrected[target] = 1 - corrected[target]
    lake.write_parquet(corrected, lake.root / "landing" / "labels" / f"{DAYS[3]}.parquet")
    _labels_arrive(config, DAYS[4], DAYS[5])
    assert pd.read_parquet(lake.validated("labels", DAYS[3]))[target].equals(corrected[target])  # accepted
    ingest_batch(config, DAYS[6])
    score_batch(config, DAYS[6])
    _labels_arrive(config, DAYS[6], DAYS[6])
    assert recheck(config, DAYS[6])["status"] == "rechecked"
    second = looks[-1]

    # The path already judged is the prefix of the new one: same rows, same order, labels as judged then.
    pd.testing.assert_frame_equal(second.iloc[: len(first)].reset_index(drop=True), first)
    assert list(dict.fromkeys(second["_batch_id"])) == [DAYS[3], DAYS[5], DAYS[4], DAYS[6]]
    persisted = pd.read_parquet(lake.challenger_sequence(version))
    pd.testing.assert_frame_equal(persisted[["_batch_id", key, target]], second, check_dtype=False)
    assert Registry(config).get(version).tags["last_look"] == DAYS[6]


def _run_challenge_dag(day: str) -> str:
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from modelguard.replay import ensure_metadata_db, prepare_airflow_env

    ensure_metadata_db(prepare_airflow_env())
    bag = DagBag(dag_folder=str(PROJECT / "dags"))
    assert not bag.import_errors
    run = bag.dags["modelguard_challenge"].test(logical_date=pendulum.parse(day), run_conf={"batch_id": day})
    states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()}
    assert states == {"train_and_compare": "success"}, states
    return str(getattr(run.state, "value", run.state))


def test_a_retracted_holdout_day_ends_the_evaluation_with_a_line_and_a_new_challenger_follows(
        lake_config, tmp_path, monkeypatch) -> None:
    config, version = lake_config
    lake, registry = Lake(config.storage_root), Registry(config)
    holdout = DAYS[3]
    # The holdout day is re-quarantined: its landing file is replaced by a broken one and the day is rerun.
    broken = pd.read_parquet(lake.landing("batches", holdout))
    broken.loc[broken.index[: int(len(broken) * 0.7)], "customer_age"] = np.nan
    lake.write_parquet(broken, lake.landing("batches", holdout))
    assert ingest_batch(config, holdout)["status"] == "quarantined"
    assert not lake.validated("batches", holdout).exists()

    _labels_arrive(config, DAYS[4], DAYS[4])
    assert assess(config, DAYS[4])["retrain"] == "recheck"
    monkeypatch.setenv("MODELGUARD_CONFIG", str(tmp_path / "copy" / "pipeline.yaml"))  # what the DAG's task loads
    assert _run_challenge_dag(DAYS[4]) == "success"  # before: FileNotFoundError, every day
    assert registry.get(version).approval == "superseded"
    lines = [e for e in decisions.read_decisions(lake) if e.get("alert") == "holdout_retracted"]
    assert len(lines) == 1
    assert lines[0]["action"] == "no_action" and lines[0]["model_version"] == version
    assert lines[0]["retracted_day"] == holdout and holdout in lines[0]["reason"]
    assert _run_challenge_dag(DAYS[4]) == "success"  # a rerun of the day adds nothing
    assert len([e for e in decisions.read_decisions(lake) if e.get("alert") == "holdout_retracted"]) == 1

    # The next day is not a re-check any more: the schedule trains a new challenger.
    _labels_arrive(config, DAYS[5], DAYS[5])
    retrain = assess(config, DAYS[5])["retrain"]
    assert retrain not in (None, "recheck"), retrain
    assert _run_challenge_dag(DAYS[5]) == "success"
    newest = registry.aliases()[CHALLENGER]
    assert int(newest) > int(version)
    assert registry.get(newest).tags["trained_on"] == DAYS[5]


def test_failed_corrected_labels_of_a_judged_day_end_the_evaluation(lake_config) -> None:
    config, version = lake_config
    lake = Lake(config.storage_root)
    holdout = DAYS[3]
    labels = pd.read_parquet(lake.validated("labels", holdout))
    labels[config.model.target] = 7  # not a class: the corrected file fails, its validated labels are retracted
    lake.write_parquet(labels, lake.root / "landing" / "labels" / f"{holdout}.parquet")
    ingest_labels(config, DAYS[4])
    assert not lake.validated("labels", holdout).exists()
    assert recheck(config, DAYS[4]) == {"batch_id": DAYS[4], "status": "retracted", "version": version,
                                        "retracted_day": holdout}
    assert Registry(config).get(version).approval == "superseded"
    [line] = [e for e in decisions.read_decisions(lake) if e.get("alert") == "holdout_retracted"]
    assert "corrected label file failed" in line["reason"]
    assert recheck(config, DAYS[4])["status"] == "nothing_to_recheck"

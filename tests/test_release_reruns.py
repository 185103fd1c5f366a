"""A released day keeps its release through any rerun of ingest: the rerun re-validates the released file
(`quarantine/<day>/fixed.*`), not the bad landing file, so the day stays accepted and scored and nothing
is deleted; and each change of the day's verdict sends one notification, since verdict lines carry the
file's fingerprint. Real DAGs (`dag.test`, as replay runs them), a real lake and a real webhook receiver."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelguard import decisions, tasks
from modelguard.config import load_config
from modelguard.simulate import parse_incident, simulate
from modelguard.storage import Lake
from modelguard.suites import build_batch_suite, build_label_suite
from tests.conftest import PROJECT, write_config
from tests.test_notify import HookReceiver

DAY = "2026-09-03"  # the simulated null storm: quarantined on arrival


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from airflow.dag_processing.dagbag import DagBag

    from modelguard.replay import ensure_metadata_db

    hook = HookReceiver().start()
    folder = tmp_path_factory.mktemp("reruns")
    config_file = write_config(folder, notifications={
        "webhook": {"url": hook.url, "timeout": 5},
        "events": ["quarantine_batch", "accept_batch", "missing_batch", "task_failure"]})
    config = load_config(config_file)
    lake = Lake(config.storage_root)
    simulate(lake.root, days=4, rows=300, reference_rows=2000, incidents=[parse_incident("null_storm@2")])
    reference = pd.read_parquet(lake.reference_train)
    lake.write_json(build_batch_suite(reference, config), lake.expectation_suite("batches"))
    lake.write_json(build_label_suite(config), lake.expectation_suite("labels"))
    ensure_metadata_db(Path(os.environ["AIRFLOW_HOME"]))
    bag = DagBag(dag_folder=str(PROJECT / "dags"))
    assert not bag.import_errors
    previous = os.environ.get("MODELGUARD_CONFIG")
    os.environ["MODELGUARD_CONFIG"] = str(config_file)  # what the tasks and the notifiers load
    try:
        yield {"lake": lake, "dags": bag.dags, "hook": hook}
    finally:
        if previous is None:
            os.environ.pop("MODELGUARD_CONFIG", None)
        else:
            os.environ["MODELGUARD_CONFIG"] = previous
        hook.stop()


def _run(world: dict, dag_id: str) -> None:
    import pendulum

    run = world["dags"][dag_id].test(logical_date=pendulum.parse(DAY), run_conf={"batch_id": DAY})
    assert str(getattr(run.state, "value", run.state)) == "success", dag_id


def _outputs(lake: Lake) -> dict[str, bytes]:
    paths = [lake.validated("batches", DAY), lake.predictions(DAY), *sorted(lake.report_dir(DAY).iterdir())]
    return {str(p): p.read_bytes() for p in paths}


def test_reruns_of_a_released_day_keep_it_accepted_and_scored_and_notify_each_verdict_change_once(world) -> None:
    lake, hook = world["lake"], world["hook"]
    _run(world, "modelguard_ingest")
    assert decisions.batch_status(lake, DAY) == "quarantined"
    bad = lake.landing("batches", DAY).read_bytes()

    # a person fixes the file (fills the null storm from the day's own values) and releases it
    fixed = pd.read_parquet(lake.landing("batches", DAY))
    rng = np.random.default_rng(0)
    for column in fixed.columns[fixed.isna().any()]:
        gaps = fixed[column].isna()
        fixed.loc[gaps, column] = rng.choice(fixed.loc[~gaps, column], gaps.sum())
    lake.write_parquet(fixed, lake.quarantine_dir(DAY) / "fixed.parquet")
    _run(world, "modelguard_release")
    assert decisions.batch_status(lake, DAY) == "released"
    # what scoring and monitoring made of the released day
    lake.write_parquet(pd.DataFrame({"transaction_id": [1], "score": [0.5]}), lake.predictions(DAY))
    lake.write_json({"drifted_features": []}, lake.report_dir(DAY) / "drift.json")
    lake.write_text("<html>drift</html>", lake.report_dir(DAY) / "drift.html")
    before, log = _outputs(lake), decisions.for_batch(lake, DAY)
    assert [(e["dag_id"], e["action"]) for e in log] == [("modelguard_ingest", "quarantine_batch"),
                                                         ("modelguard_release", "accept_batch")]
    assert log[0]["file_sha256"] != log[1]["file_sha256"]  # the bad landing file, then the fixed one
    assert [p["event"] for p in hook.about(DAY)] == ["quarantine_batch", "accept_batch"]

    # reruns: the DAG's task called again (a cleared task, a backfill), then a replay of the day's DAG
    assert tasks.ingest_batch(DAY)["status"] == "accepted"
    tasks.ingest_labels(DAY)
    _run(world, "modelguard_ingest")
    _run(world, "modelguard_ingest")
    assert decisions.batch_status(lake, DAY) == "released"
    assert _outputs(lake) == before, "a rerun touched the released day's validated batch, predictions or reports"
    assert decisions.for_batch(lake, DAY) == log  # the verdict did not change: no line, no notification
    assert [p["event"] for p in hook.about(DAY)] == ["quarantine_batch", "accept_batch"]
    assert lake.landing("batches", DAY).read_bytes() == bad  # the bad landing file stays where it is
    assert (lake.quarantine_dir(DAY) / f"{DAY}.parquet").read_bytes() == bad

    # the released file itself is replaced by a broken one: a real change of verdict, told once
    lake.write_parquet(fixed.drop(columns=["amount"]), lake.quarantine_dir(DAY) / "fixed.parquet")
    _run(world, "modelguard_ingest")
    _run(world, "modelguard_ingest")
    assert decisions.batch_status(lake, DAY) == "quarantined"
    assert not lake.validated("batches", DAY).exists() and not lake.predictions(DAY).exists()
    assert [p["event"] for p in hook.about(DAY)] == ["quarantine_batch", "accept_batch", "quarantine_batch"]
    assert len({p["id"] for p in hook.about(DAY)}) == 3
    assert "amount" in decisions.for_batch(lake, DAY)[-1]["reason"]

    # and the good fix back: accepted again, told once
    lake.write_parquet(fixed, lake.quarantine_dir(DAY) / "fixed.parquet")
    _run(world, "modelguard_ingest")
    _run(world, "modelguard_ingest")
    assert decisions.batch_status(lake, DAY) in decisions.USABLE
    assert lake.validated("batches", DAY).read_bytes() == before[str(lake.validated("batches", DAY))]
    assert [p["event"] for p in hook.about(DAY)] == ["quarantine_batch", "accept_batch", "quarantine_batch",
                                                     "accept_batch"]


def test_a_released_label_file_survives_later_ingests(world) -> None:
    """The labels' twin of the above: a bad label file is quarantined, its fix released; every later ingest
    (the next day's run, a rerun) leaves the release alone instead of quarantining the bad file again and
    retracting the day's validated labels."""
    from modelguard.ingest import release_labels

    lake, day = world["lake"], "2026-09-02"
    assert tasks.ingest_batch(day)["status"] == "accepted"
    ids = pd.read_parquet(lake.validated("batches", day))["transaction_id"]
    good = pd.DataFrame({"transaction_id": ids, "is_fraud": (np.arange(len(ids)) % 20 == 0).astype(int)})
    lake.write_parquet(good.assign(is_fraud=7), lake.root / "landing" / "labels" / f"{day}.parquet")  # not a class
    assert day in tasks.ingest_labels(day)["labels_quarantined"]
    lake.write_parquet(good, lake.quarantine_dir(day, "labels") / "fixed.parquet")
    release_labels(load_config(os.environ["MODELGUARD_CONFIG"]), day)
    validated = lake.validated("labels", day).read_bytes()
    lines = [e for e in decisions.for_batch(lake, day) if e.get("kind") == "labels"]
    for run_day in (day, "2026-09-04"):  # a rerun of the day, and the next day's ingest
        result = tasks.ingest_labels(run_day)
        assert day not in result["labels_quarantined"]
    assert lake.validated("labels", day).read_bytes() == validated
    assert [e for e in decisions.for_batch(lake, day) if e.get("kind") == "labels"] == lines

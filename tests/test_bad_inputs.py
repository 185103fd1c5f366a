"""The bad-input corpus through Airflow: each broken file lands on its own day and the real DAGs
(dag.test, temp metadata DB, temp MLflow store) must quarantine it with a reason that names the
fault, keep the original as it arrived, leave the other days alone, and do the same on a rerun."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from modelguard import decisions
from modelguard.bootstrap import initialise
from modelguard.config import load_config
from modelguard.simulate import simulate
from modelguard.storage import Lake
from tests.conftest import PROJECT, cli_env, write_config
from tests.corruptions import CASES
from tests.test_e2e_replay import modelguard

pytestmark = pytest.mark.e2e
START = dt.date(2026, 9, 1)
NAMES = sorted(CASES)
DAY_OF = {name: (START + dt.timedelta(days=i + 1)).isoformat() for i, name in enumerate(NAMES)}
GOOD_DAYS = [START.isoformat(), (START + dt.timedelta(days=len(NAMES) + 1)).isoformat()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    config_file = write_config(folder, challenger={"every_days": 90})
    config = load_config(config_file)
    lake = Lake(config.storage_root)
    simulate(lake.root, days=len(NAMES) + 2, rows=600, reference_rows=4000, incidents=[])
    originals = {}
    for name, day in DAY_OF.items():
        landed = lake.landing("batches", day)
        good = pd.read_parquet(landed)
        landed.unlink()
        writer, _ = CASES[name]
        path = writer(good, lake.root / "landing" / "batches" / day)
        originals[name] = (path.name, path.read_bytes())
    env = cli_env(config_file, folder / "airflow")
    initialise(config)
    modelguard("replay", "--all", env=env)
    return lake, originals, env


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_quarantined_with_its_reason(corpus, name: str) -> None:
    lake, originals, _ = corpus
    day = DAY_OF[name]
    ingest = [e for e in decisions.for_batch(lake, day) if e["dag_id"] == "modelguard_ingest"
              and e.get("kind") != "labels"]
    assert [e["action"] for e in ingest] == ["quarantine_batch"]
    reason = json.loads((lake.quarantine_dir(day) / "reason.json").read_text())
    assert CASES[name][1] in reason["reason"]
    filename, content = originals[name]
    assert (lake.quarantine_dir(day) / filename).read_bytes() == content  # kept exactly as it arrived
    assert (lake.quarantine_dir(day) / "report.html").exists()
    assert not lake.validated("batches", day).exists() and not lake.predictions(day).exists()


def test_good_days_are_untouched(corpus) -> None:
    lake, _, _ = corpus
    for day in GOOD_DAYS:
        assert [e["action"] for e in decisions.for_batch(lake, day)
                if e["dag_id"] == "modelguard_ingest" and e.get("kind") != "labels"] == ["accept_batch"]
        assert lake.predictions(day).exists()
    assert sorted(p.name for p in (lake.root / "quarantine").iterdir() if p.name != "labels") == sorted(DAY_OF.values())


def test_rerun_quarantines_the_same_way_without_duplicates(corpus) -> None:
    lake, _, env = corpus
    days = [DAY_OF[name] for name in NAMES[:3]]  # three consecutive days, one process
    before = decisions.read_decisions(lake)
    reasons = {d: json.loads((lake.quarantine_dir(d) / "reason.json").read_text())["reason"] for d in days}
    modelguard("replay", "--start", days[0], "--end", days[-1], env=env)
    after = decisions.read_decisions(lake)
    key = lambda e: (e["batch_id"], e["dag_id"], e["action"], e.get("model_version"))  # noqa: E731
    assert sorted(map(key, after)) == sorted(map(key, before))
    assert {d: json.loads((lake.quarantine_dir(d) / "reason.json").read_text())["reason"] for d in days} == reasons
    assert not any(Path(p).name.startswith(".") for p in (lake.quarantine_dir(days[0])).iterdir())


def test_a_fixed_batch_is_released_and_refed_through_the_cycle(corpus) -> None:
    lake, _, env = corpus
    day = DAY_OF["amounts_in_cents"]
    broken = pd.read_parquet(lake.quarantine_dir(day) / f"{day}.parquet")
    broken["amount"] = broken["amount"] / 100
    broken.to_parquet(lake.quarantine_dir(day) / "fixed.parquet", index=False)
    out = modelguard("release", day, env=env).stdout
    assert f"{day}: released" in out
    assert decisions.batch_status(lake, day) == "released"
    assert lake.validated("batches", day).exists() and lake.predictions(day).exists()
    assert (lake.report_dir(day) / "drift.html").exists()
    released = [e for e in decisions.for_batch(lake, day) if e["dag_id"] == "modelguard_release"]
    assert [e["action"] for e in released] == ["accept_batch"]
    assert (lake.quarantine_dir(day) / f"{day}.parquet").exists()  # the bad original stays for the record


def test_release_of_a_still_broken_batch_is_refused(corpus) -> None:
    lake, _, env = corpus
    import subprocess
    import sys

    day = DAY_OF["null_storm"]
    done = subprocess.run([sys.executable, "-m", "modelguard.cli", "release", day], env=env, capture_output=True,
                          text=True, cwd=PROJECT, timeout=600)
    assert done.returncode == 1
    assert "quarantined" in done.stdout and "customer_age" in done.stdout
    assert not lake.validated("batches", day).exists()

"""`modelguard init` is idempotent: rerun after a promotion, it keeps the reference profile and scores of
the first champion (what drift and output anomalies are judged against) unless asked to re-base them."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from modelguard import decisions, model
from modelguard.bootstrap import initialise
from modelguard.cli import app
from modelguard.config import load_config
from modelguard.registry import CHAMPION, Registry
from modelguard.simulate import simulate
from modelguard.storage import Lake
from tests.conftest import write_config


def test_init_rerun_after_a_promotion_keeps_the_first_champions_reference_until_rebased(tmp_path,
                                                                                          monkeypatch) -> None:
    config_file = write_config(tmp_path)
    config = load_config(config_file)
    simulate(config.storage_root, days=1, rows=200, reference_rows=1500, incidents=[])
    initialise(config)
    lake, registry = Lake(config.storage_root), Registry(config)
    profile, scored = lake.reference_profile.read_bytes(), lake.reference_scored.read_bytes()

    # a promotion: v2, trained on other rows (other scores, other metrics), now serves
    reference = pd.read_parquet(lake.reference_train)
    estimator = model.fit(config.model, reference.sample(frac=0.5, random_state=3))
    version, _ = registry.register(estimator, train_key="v2", run_name="v2", metrics={},
                                   tags={"trigger": "performance", "approval": "approved", "metric_pr_auc": 0.99})
    registry.set_alias(CHAMPION, version)

    again = initialise(config)
    assert json.loads(lake.reference_profile.read_text())["champion_version"] == "1"
    assert lake.reference_profile.read_bytes() == profile  # output, baseline, champion_version: the first's
    assert lake.reference_scored.read_bytes() == scored  # the prediction-drift reference is not rescored
    assert again["champion_version"] == version
    assert (again["reference_version"], again["reference_rebased"]) == ("1", False)
    assert not [e for e in decisions.read_decisions(lake) if e.get("alert") == "reference_rebased"]

    monkeypatch.setenv("MODELGUARD_CONFIG", str(config_file))
    done = CliRunner().invoke(app, ["init", "--rebase-reference"])
    assert done.exit_code == 0, done.output
    assert f"reference profile re-based on v{version}" in done.output
    rebased = json.loads(lake.reference_profile.read_text())
    assert rebased["champion_version"] == version and rebased["baseline"] == {"pr_auc": 0.99}
    assert lake.reference_scored.read_bytes() != scored
    [line] = [e for e in decisions.read_decisions(lake) if e.get("alert") == "reference_rebased"]
    assert (line["model_version"], line["previous_reference"], line["dag_id"]) == (version, "1", "modelguard_init")

    kept = lake.reference_profile.read_bytes()
    assert initialise(config)["reference_version"] == version and lake.reference_profile.read_bytes() == kept

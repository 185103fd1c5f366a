"""End to end: a covariate shift without a concept change (a marketing campaign floods one merchant
category) is replayed through the real DAGs, with a simulated engineer who approves whatever is put
in front of them. It must alert on drift, name the drifted feature, and still not promote: the
model's errors did not change, so no challenger can beat the champion on fresh labels."""

from __future__ import annotations

import pandas as pd
import pytest

from modelguard import decisions
from modelguard.registry import CHAMPION, Registry
from modelguard.storage import Lake
from tests.conftest import simulated_lake
from tests.test_e2e_replay import SHORT_TIMELINE, modelguard

pytestmark = pytest.mark.e2e

CAMPAIGN_DAYS = ["2026-09-04", "2026-09-05", "2026-09-06", "2026-09-07"]  # new_category@3 lasts four days


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    config, env = simulated_lake(tmp_path_factory.mktemp("covariate"), 10, ["new_category@3"], **SHORT_TIMELINE)
    modelguard("replay", "--all", "--operator-approves", env=env)
    return config, Lake(config.storage_root)


def test_the_campaign_alerts_on_drift_and_names_the_feature(replayed) -> None:
    _, lake = replayed
    log = decisions.read_decisions(lake)
    alerts = {e["batch_id"]: e for e in log if e["action"] == "drift_alert"}
    assert set(CAMPAIGN_DAYS) <= set(alerts)
    assert all("merchant_category" in alerts[day]["evidence"]["drifted_features"] for day in CAMPAIGN_DAYS)
    # quiet days before the campaign stay quiet
    assert not [day for day in alerts if day < CAMPAIGN_DAYS[0]]
    # the campaign is drift, not a broken batch: every day was accepted and scored
    assert len([e for e in log if e["action"] == "accept_batch" and e.get("kind") != "labels"]) == 10


def test_the_covariate_shift_causes_no_promotion_and_no_performance_alert(replayed) -> None:
    config, lake = replayed
    log = decisions.read_decisions(lake)
    assert not [e for e in log if e["action"] in ("performance_alert", "promote", "rollback", "request_approval")]
    assert Registry(config).aliases()[CHAMPION] == "1"
    # the pipeline did try: three drift days in a row ask for a challenger, which lost its comparison
    challengers = [v for v in Registry(config).versions() if v.tags.get("trigger") == "drift"]
    assert challengers and all(v.tags.get("comparison") != "passed" for v in challengers)


def test_the_health_history_shows_the_drift_and_a_steady_estimate(replayed) -> None:
    _, lake = replayed
    health = pd.read_parquet(lake.health_table).pivot(index="batch_id", columns="metric", values="value")
    campaign, quiet = health.loc[CAMPAIGN_DAYS], health.drop(index=CAMPAIGN_DAYS)
    assert (campaign["drift_share"] > 0).all() and (quiet["drift_share"] == 0).all()
    # covariate shift alone barely moves the label-free estimate (no concept change to see)
    assert (campaign["estimated_roc_auc"] - quiet["estimated_roc_auc"].mean()).abs().max() < 0.05

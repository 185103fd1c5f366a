"""A concept drift through the stage functions the DAG tasks call (in process, in DAG order; the DAGs
themselves are run by test_e2e_replay and the live stack): the challenger learns the new concept, the
request comes a day after the first drifted labels, and an undecided challenger is re-checked on the
labels that arrive later, on a longer sequence of the same rows."""

from __future__ import annotations

import ast
import datetime as dt
import os

import pytest

from modelguard import decisions, tasks
from modelguard.challenge import recheck
from modelguard.promote import approve_requested
from modelguard.registry import CHALLENGER, Registry
from modelguard.simulate import deliver_labels
from modelguard.storage import Lake
from tests.conftest import simulated_lake

DAYS = 11
DRIFT = 3  # 2026-09-04; labels 3 days late: the first drifted labels arrive on 2026-09-07


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("challenge-flow")
    config, _ = simulated_lake(folder, DAYS, [f"concept_drift@{DRIFT}"],
                               challenger={"window_days": 4, "holdout_days": 1, "min_rows": 1000, "every_days": 60,
                                           "bootstrap_rounds": 100},
                               policy={"performance_window_days": 1, "cooldown_days": 3},
                               validation={"min_rows": 50})
    os.environ["MODELGUARD_CONFIG"] = str(folder / "pipeline.yaml")
    lake = Lake(config.storage_root)
    days = [(dt.date(2026, 9, 1) + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    for day in days:
        deliver_labels(lake.root, day)
        if approve_requested(config, day, by="test operator"):
            tasks.promote(day)
        for step in (tasks.ingest_labels, tasks.ingest_batch, tasks.score_batch, tasks.drift_report,
                     tasks.measure_performance):
            step(day)
        if tasks.assess(day)["retrain"]:
            tasks.challenge(day)
        tasks.promote(day)
    return config, lake, days


def test_the_challenger_learns_the_new_concept_only(timeline) -> None:
    config, lake, days = timeline
    onset = days[DRIFT]
    after_drop = [v for v in Registry(config).versions() if v.tags.get("trigger") == "performance"]
    assert after_drop, "no challenger after the performance drop"
    for version in after_drop:
        assert version.tags["onset"] == onset
        assert version.tags["train_window"][:10] >= onset  # never a window wholly before the onset
        assert version.tags["seen_until"] >= onset


def test_the_first_request_comes_a_day_after_the_first_drifted_labels_and_repairs(timeline) -> None:
    config, lake, days = timeline
    first_labels = dt.date.fromisoformat(days[DRIFT]) + dt.timedelta(days=3)
    requests = [e for e in decisions.read_decisions(lake) if e["action"] == "request_approval"]
    assert requests, "no approval requested after the concept drift"
    assert (dt.date.fromisoformat(requests[0]["batch_id"]) - first_labels).days <= 1
    assert requests[0]["repairs"] in ("yes", "partial")
    assert requests[0]["partial_fix"] == (requests[0]["repairs"] == "partial")
    promoted = [e["model_version"] for e in decisions.read_decisions(lake) if e["action"] == "promote"]
    assert promoted and promoted[0] == requests[0]["model_version"]


def test_an_undecided_challenger_is_rechecked_on_the_later_labels(timeline) -> None:
    config, lake, days = timeline
    registry = Registry(config)
    champion = registry.aliases()["champion"]
    others = [v for v in registry.versions() if v.version != champion and v.tags.get("trigger") == "performance"]
    challenger = others[-1] if others else registry.versions()[0]
    registry.set_alias(CHALLENGER, challenger.version)
    detail = ast.literal_eval(challenger.tags.get("comparison_detail", "{'rows': 0}"))
    # Rewind it to "undecided, last looked at on its own holdout", as if it had not been proven yet.
    first_look = sorted(lake.validated_ids("labels"))[0]
    registry.set_tags(challenger.version, {"approval": "evaluating", "seen_until": first_look, "compared_with": champion,
                                           "last_look": first_look, "holdout_days": "[]", "holdout_split": "null"})
    result = recheck(config, days[-1])
    assert result["status"] == "rechecked" and result["version"] == challenger.version
    after = registry.get(challenger.version)
    assert after.tags["last_look"] == sorted(lake.validated_ids("labels"))[-1]
    assert ast.literal_eval(after.tags["comparison_detail"])["rows"] > detail["rows"]
    assert after.approval in ("pending", "evaluating", "rejected")
    # nothing new since that look: a second re-check does nothing
    assert recheck(config, days[-1])["status"] in ("no_new_labels", "nothing_to_recheck")


def test_an_undecided_challenger_compared_with_another_champion_is_superseded_not_extended(timeline) -> None:
    """Its evidence was about the champion it was compared with; after a promotion or rollback it cannot be
    extended against the new one (a rollback to an old model would otherwise inherit evidence against a
    model that no longer serves)."""
    config, lake, days = timeline
    registry = Registry(config)
    champion = registry.aliases()["champion"]
    other = next(v for v in registry.versions() if v.version != champion)
    registry.set_alias(CHALLENGER, other.version)
    registry.set_tags(other.version, {"approval": "evaluating", "compared_with": "999", "last_look": "2026-09-01",
                                      "seen_until": "2026-09-01", "holdout_days": "[]", "holdout_split": "null"})
    assert recheck(config, days[-1])["status"] == "superseded"
    assert registry.get(other.version).approval == "superseded"
    line = [e for e in decisions.read_decisions(lake) if e["model_version"] == other.version][-1]
    assert "no longer re-checked" in line["reason"] and "v999" in line["reason"]

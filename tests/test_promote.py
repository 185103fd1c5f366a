"""Promotion, approval, manual alias moves, gates, auto-promote and rollback on a real MLflow
registry (SQLite store in a temp folder), without the scheduler."""

from __future__ import annotations

import pandas as pd
import pytest

from modelguard import decisions, model
from modelguard.bootstrap import initialise
from modelguard.config import load_config
from modelguard.promote import (
    PromotionRefused,
    approve,
    approve_requested,
    promote,
    registry_requests,
    rollback,
)
from modelguard.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, Registry
from modelguard.simulate import simulate
from modelguard.storage import Lake
from tests.conftest import write_config


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("promote")
    config = load_config(write_config(folder))
    simulate(config.storage_root, days=1, rows=200, reference_rows=3000, incidents=[])
    initialise(config)
    reference = pd.read_parquet(Lake(config.storage_root).reference_train)
    estimator = model.fit(config.model, reference)
    registry = Registry(config)

    def register(key: str, comparison: str = "passed", approval: str = "pending") -> str:
        version, _ = registry.register(estimator, train_key=key, run_name=key, metrics={},
                                       tags={"trigger": "manual", "comparison": comparison, "approval": approval,
                                             "compared_with": registry.aliases()[CHAMPION]})
        return version

    return config, registry, register


def test_an_approved_challenger_is_promoted_once(world) -> None:
    config, registry, register = world
    version = register("a")
    registry.set_alias(CHALLENGER, version)
    assert promote(config, "2026-09-02")["status"] == "nothing_approved"  # pending is not approved
    approve(config, version, by="alice")
    result = promote(config, "2026-09-02")
    assert result == {"batch_id": "2026-09-02", "status": "promoted", "version": version, "previous": "1"}
    assert registry.aliases() == {CHAMPION: version, PREVIOUS_CHAMPION: "1"}
    assert registry.get(version).tags["promoted_by"] == "alice"
    assert promote(config, "2026-09-02")["status"] == "nothing_approved"  # a rerun moves nothing
    log = [e for e in decisions.read_decisions(Lake(config.storage_root)) if e["action"] == "promote"]
    assert len(log) == 1 and log[0]["by"] == "alice"


def test_a_champion_moved_by_hand_is_recorded(world) -> None:
    config, registry, register = world
    before = registry.aliases()[CHAMPION]
    version = register("b")
    registry.set_tags(version, {"compared_with": before})
    registry.set_alias(CHAMPION, version)  # what a person does in the MLflow UI
    assert promote(config, "2026-09-03")["status"] == "recorded_manual_move"
    assert registry.aliases()[PREVIOUS_CHAMPION] == before
    entry = decisions.for_batch(Lake(config.storage_root), "2026-09-03")[-1]
    assert (entry["action"], entry["model_version"]) == ("promote", version)
    # the embedded store has no login: who moved it is unknown, and the line says so
    assert entry["moved_by"].startswith("unknown") and entry["identity_verified"] is False


def test_gates_refuse_a_loser_unless_forced(world) -> None:
    config, registry, register = world
    loser = register("c", comparison="failed", approval="rejected")
    with pytest.raises(PromotionRefused, match="did not pass its comparison"):
        promote(config, "2026-09-04", version=loser)
    with pytest.raises(PromotionRefused, match="does not exist"):
        promote(config, "2026-09-04", version="999")
    assert promote(config, "2026-09-04", version=loser, force=True)["status"] == "promoted"
    assert registry.aliases()[CHAMPION] == loser


def test_manual_rollback_and_no_rollback_without_cause(world) -> None:
    config, registry, _ = world
    assert rollback(config, "2026-09-05")["status"] == "not_needed"  # no assessment asks for it
    result = rollback(config, "2026-09-05", version="1", by="bob")
    assert result["status"] == "rolled_back" and registry.aliases()[CHAMPION] == "1"
    assert registry.get(result["rolled_back"]).tags["approval"] == "rolled_back"  # the pipeline's word, not "rejected"


def test_auto_promote_needs_no_person(world, tmp_path) -> None:
    config, registry, register = world
    auto = config.model_copy(update={"policy": config.policy.model_copy(update={"auto_promote": True})})
    version = register("d")
    assert promote(auto, "2026-09-06")["version"] == version
    assert registry.aliases()[CHAMPION] == version


def test_requested_approvals_are_approved_the_next_day_by_the_simulated_engineer(world) -> None:
    config, registry, register = world
    version = register("e")
    decisions.record(Lake(config.storage_root), batch_id="2026-09-07", dag_id="modelguard_challenge",
                     action="request_approval", reason="test", model_version=version)
    assert approve_requested(config, "2026-09-07", by="sim") == []  # not before the day after
    assert approve_requested(config, "2026-09-08", by="sim") == [version]
    assert registry.get(version).tags["approved_by"] == "sim"
    assert approve_requested(config, "2026-09-09", by="sim") == []  # already approved


def test_registry_requests_list_what_a_person_did_until_the_promote_run_acts_on_it(world) -> None:
    """What the triggerer's watcher polls: approvals, rejections of requested versions, refusals (once each)."""
    config, registry, register = world
    lake = Lake(config.storage_root)
    promote(config, "2026-09-09")  # what earlier tests approved
    assert registry_requests(config) == []
    # A requested version rejected in the registry: logged once as no_action, never promoted.
    rejected = register("f")
    decisions.record(lake, batch_id="2026-09-10", dag_id="modelguard_challenge", action="request_approval",
                     reason="test", model_version=rejected)
    registry.set_tags(rejected, {"approval": "rejected"})
    assert registry_requests(config) == [{"version": rejected, "request": "rejected"}]
    assert promote(config, "2026-09-10")["rejected"] == [rejected]
    assert registry_requests(config) == []
    assert promote(config, "2026-09-11")["status"] == "nothing_approved"
    lines = [e for e in decisions.read_decisions(lake) if e.get("alert") == "approval_rejected"]
    assert [(e["action"], e["model_version"]) for e in lines] == [("no_action", rejected)]
    assert "rejected by" in lines[0]["reason"]
    # An approval of a version that lost its comparison: refused once, in the log, not a failing task.
    loser = register("g", comparison="failed")
    approve(config, loser, by="carol")
    assert registry_requests(config) == [{"version": loser, "request": "approved"}]
    assert promote(config, "2026-09-12")["status"] == "refused"
    assert registry_requests(config) == []
    assert promote(config, "2026-09-13")["status"] == "nothing_approved"
    refusals = [e for e in decisions.read_decisions(lake) if e.get("alert") == "approval_refused"]
    assert len(refusals) == 1 and "carol" in refusals[0]["reason"]
    assert registry.aliases()[CHAMPION] != loser


def test_the_triggerer_watcher_fires_once_per_new_request(world, monkeypatch) -> None:
    """The AssetWatcher's trigger, run as the triggerer runs it (an async generator), on the real registry."""
    import asyncio

    from modelguard.approval_watch import RegistryApprovalTrigger
    from modelguard.config import config_path

    config, registry, register = world
    monkeypatch.setenv("MODELGUARD_CONFIG", str(config_path(config.base_dir / "pipeline.yaml")))
    trigger = RegistryApprovalTrigger(poll_seconds=0.05)
    assert RegistryApprovalTrigger(**trigger.serialize()[1]).poll_seconds == 0.05
    assert trigger.serialize()[0] == "modelguard.approval_watch.RegistryApprovalTrigger"
    version = register("h")
    approve(config, version, by="dave")

    async def first_event():
        events = trigger.run()
        event = await asyncio.wait_for(events.__anext__(), timeout=60)
        # The same request is not fired again while it waits for the promote run.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(events.__anext__(), timeout=1.0)
        await events.aclose()
        return event

    event = asyncio.run(first_event())
    assert event.payload == {"requests": [{"version": version, "request": "approved"}]}
    assert promote(config, "2026-09-14")["version"] == version
    assert registry_requests(config) == []


def _intent(registry: Registry, to: str, from_: str, at: str, owner: dict) -> None:
    from modelguard.registry import PENDING_MOVE_TAG

    registry.set_model_tag(PENDING_MOVE_TAG, {"kind": "promote", "to": to, "from": from_, "batch_id": "2026-09-20",
                                              "by": "a dead run", "at": at, "owner": owner})


def test_a_stale_intent_never_undoes_a_persons_move(world) -> None:
    import datetime as dt

    from modelguard.promote import repair
    from modelguard.registry import PENDING_MOVE_TAG

    config, registry, register = world
    champion = registry.aliases()[CHAMPION]
    target, chosen = register("stale-target"), register("chosen-by-a-person")
    an_hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    _intent(registry, target, champion, an_hour_ago, {"host": "another-worker", "pid": 1})  # died half-way
    registry.set_alias(CHAMPION, chosen)  # since then, a person moved champion in the MLflow UI
    assert repair(config)["discarded"]
    assert registry.aliases()[CHAMPION] == chosen and PENDING_MOVE_TAG not in registry.model_tags()
    line = decisions.for_batch(Lake(config.storage_root), "2026-09-20")[-1]
    assert (line["action"], line["alert"]) == ("no_action", "stale_move_discarded")
    registry.set_alias(CHAMPION, champion)


def test_a_live_movers_intent_is_left_alone_and_a_dead_ones_is_completed(world) -> None:
    import datetime as dt
    import socket
    import subprocess

    from modelguard.promote import INTENT_LEASE, AliasMoveInProgress, repair

    config, registry, register = world
    champion = registry.aliases()[CHAMPION]
    target = register("lease")
    now = dt.datetime.now(dt.UTC).isoformat()
    mover = subprocess.Popen(["sleep", "60"])  # a CLI promotion still running on this host
    try:
        _intent(registry, target, champion, now, {"host": socket.gethostname(), "pid": mover.pid})
        with pytest.raises(AliasMoveInProgress):
            repair(config)
        _intent(registry, target, champion, now, {"host": "another-worker", "pid": 1})  # young, elsewhere
        with pytest.raises(AliasMoveInProgress):
            repair(config)
    finally:
        mover.kill()
        mover.wait()
    _intent(registry, target, champion, now, {"host": socket.gethostname(), "pid": mover.pid})  # it died
    assert repair(config)["to"] == target and registry.aliases()[CHAMPION] == target
    assert registry.aliases()[PREVIOUS_CHAMPION] == champion
    _intent(registry, target, champion, now, {"host": "another-worker", "pid": 1})
    later = dt.datetime.now(dt.UTC) + INTENT_LEASE
    assert repair(config, now=later)["to"] == target  # past the lease: taken over (already done: a no-op)


def test_an_unanswered_approval_expires_and_stops_holding_retraining_back(world) -> None:
    config, registry, register = world
    version = register("waits-forever")
    registry.set_tags(version, {"trained_on": "2026-09-01"})
    assert not registry.get(version).approval_expired("2026-09-08", config.policy.approval_ttl_days)  # 7 days: holds
    assert registry.get(version).approval_expired("2026-09-09", config.policy.approval_ttl_days)
    promote(config, "2026-09-09")
    assert registry.get(version).approval == "expired"
    lines = [e for e in decisions.read_decisions(Lake(config.storage_root)) if e.get("alert") == "approval_expired"]
    assert [(e["action"], e["model_version"]) for e in lines] == [("no_action", version)]
    promote(config, "2026-09-10")  # logged once
    assert len([e for e in decisions.read_decisions(Lake(config.storage_root))
                if e.get("alert") == "approval_expired"]) == 1


def test_a_rerun_of_an_old_days_rollback_acts_on_that_days_versions(world) -> None:
    config, registry, register = world
    lake = Lake(config.storage_root)
    champion = registry.aliases()[CHAMPION]
    served_then, target = register("served-then"), register("previous-then")
    # the day's assessment asked to roll back `served_then` to `target`; champion has moved on since
    lake.write_json({"rollback": True, "aliases": {CHAMPION: served_then, PREVIOUS_CHAMPION: target},
                     "actions": [{"action": "rollback", "reason": "guardrail failed"}]},
                    lake.report_dir("2026-09-21") / "assessment.json")
    assert rollback(config, "2026-09-21")["status"] == "superseded"
    assert registry.aliases()[CHAMPION] == champion
    line = decisions.for_batch(lake, "2026-09-21")[-1]
    assert (line["action"], line["alert"]) == ("no_action", "rollback_superseded")

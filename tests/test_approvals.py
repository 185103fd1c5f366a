"""An approval acts only on what was compared, and the log keeps every move (issue #20), on a real MLflow
registry (SQLite store) and a real lake, without the scheduler (one run of the promote DAG by `dag.test`)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from modelguard import decisions, model
from modelguard.bootstrap import initialise
from modelguard.challenge import _take_challenger_alias
from modelguard.config import load_config
from modelguard.health_page import pending_approvals
from modelguard.notify import decision_message, event_of
from modelguard.promote import (
    PromotionRefused,
    _logged_champion,
    approve,
    promote,
    registry_requests,
    repair,
    rollback,
)
from modelguard.registry import CHALLENGER, CHAMPION, PENDING_MOVE_TAG, PREVIOUS_CHAMPION, Registry
from modelguard.simulate import simulate
from modelguard.storage import Lake
from tests.conftest import PROJECT, write_config

DAY = "2026-09-10"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A lake and registry with the first champion (v1), and one fitted model to register as challengers."""
    folder = tmp_path_factory.mktemp("approvals-template")
    config = load_config(write_config(folder))
    simulate(config.storage_root, days=1, rows=200, reference_rows=2000, incidents=[])
    initialise(config)
    return folder, model.fit(config.model, pd.read_parquet(Lake(config.storage_root).reference_train))


@pytest.fixture
def world(template, tmp_path):
    folder, estimator = template
    shutil.copytree(folder, tmp_path / "w")
    config = load_config(tmp_path / "w" / "pipeline.yaml")
    return config, Registry(config), Lake(config.storage_root), estimator


def _requested(world, day: str, repairs: str) -> str:
    """A challenger that beats the champion, registered and asking for approval as the challenge stage does."""
    config, registry, lake, estimator = world
    champion = registry.aliases()[CHAMPION]
    version, _ = registry.register(estimator, train_key=f"challenger-{day}-{repairs}", run_name=day, metrics={},
                                   tags={"trigger": "performance", "comparison": "passed", "compared_with": champion,
                                         "trained_on": day, "requested_on": day, "repairs": repairs})
    registry.set_tags(version, {"approval": "pending"})
    _take_challenger_alias(registry, version)
    fix = "PARTIAL FIX" if repairs == "partial" else "Repairs"
    decisions.record(lake, batch_id=day, dag_id="modelguard_challenge", action="request_approval",
                     model_version=version, reason=f"challenger v{version} beats champion v{champion}. {fix}",
                     partial_fix=repairs == "partial", repairs=repairs)
    return version


def _page(world) -> list[str]:
    config, registry, lake, _ = world
    tags = {v.version: v.tags for v in registry.versions()}
    return [p["version"] for p in pending_approvals(decisions.read_decisions(lake), tags, config.model.name, "http://m")]


def _lines(lake: Lake, **match) -> list[dict]:
    return [e for e in decisions.read_decisions(lake) if all(e.get(k) == v for k, v in match.items())]


def test_an_approved_partial_fix_never_replaces_the_repair_promoted_after_it(world) -> None:
    """The issue's "the search goes on" flow: v2 PARTIAL FIX, then v3 repairs; a person approves both; the
    watcher promotes v3; the request set becomes [v2] and fires again: v2 (compared only with v1) must stay out."""
    config, registry, lake, _ = world
    partial, repair_ = _requested(world, "2026-09-08", "partial"), _requested(world, "2026-09-09", "yes")
    approve(config, partial, by="alice")
    approve(config, repair_, by="alice")
    assert promote(config, DAY)["version"] == repair_
    assert registry.aliases()[CHAMPION] == repair_
    for day in (DAY, "2026-09-11"):  # the watcher fires again, and the next day's run
        assert promote(config, day).get("status") != "promoted"
        assert registry.aliases()[CHAMPION] == repair_
    assert registry_requests(config) == []  # nothing left for the watcher: it does not fire again
    assert registry.get(partial).approval in ("superseded", "approved")
    assert "promoted_on" not in registry.get(partial).tags
    assert _page(world) == []
    told = _lines(lake, model_version=partial, action="no_action")
    assert told and {e.get("alert") for e in told} <= {"approval_superseded", "approval_refused"}
    assert not _lines(lake, action="promote", model_version=partial)


def test_an_answered_approval_outlives_a_newer_challenger_and_is_promoted(world) -> None:
    """A person approved v2 (compared with v1, which serves); before the promote run, a newer challenger v3 takes
    the alias. The approval is the person's answer, not an open question: v2 is promoted, and v3 (compared with
    v1, which no longer serves) is superseded by the champion change."""
    from modelguard.promote import supersede_requests

    config, registry, lake, _ = world
    answered = _requested(world, "2026-09-08", "partial")
    approve(config, answered, by="alice")
    newer = _requested(world, "2026-09-09", "yes")
    assert supersede_requests(lake, registry, "2026-09-09", "modelguard_challenge", challenger=newer) == []
    assert registry.get(answered).approval == "approved"
    result = promote(config, DAY)
    assert (result["status"], result["version"]) == ("promoted", answered)
    assert registry.aliases()[CHAMPION] == answered
    assert registry.get(newer).approval == "superseded"
    (line,) = _lines(lake, alert="approval_superseded")
    assert line["model_version"] == newer and f"v{answered} serves now" in line["reason"]


def test_a_newer_challenger_supersedes_every_older_request_and_a_late_approval_is_refused_once(world) -> None:
    from modelguard.promote import supersede_requests

    config, registry, lake, _ = world
    older = _requested(world, "2026-09-08", "partial")  # pending: nobody answered it yet
    newer = _requested(world, "2026-09-09", "yes")
    # what the challenge stage does once the newer one holds the alias
    assert supersede_requests(lake, registry, "2026-09-09", "modelguard_challenge", challenger=newer) == [older]
    assert registry.get(older).approval == "superseded"
    assert registry.get(older).tags["superseded_on"] == "2026-09-09"
    (line,) = _lines(lake, alert="approval_superseded")
    assert (line["dag_id"], line["batch_id"], line["model_version"]) == ("modelguard_challenge", "2026-09-09", older)
    assert f"newer challenger v{newer}" in line["reason"]
    assert event_of(line) == "approval_superseded" and "approval_superseded" in config.notifications.events
    assert decision_message(config, line).subject.startswith(f"[modelguard] Approval request for v{older} superseded")
    assert _page(world) == [newer]  # it left the pending list
    # a rerun of the challenge supersedes nothing again
    assert supersede_requests(lake, registry, "2026-09-09", "modelguard_challenge", challenger=newer) == []
    # A person approves it anyway in the MLflow UI (overwriting the tag): one refusal, never a promotion, and the
    # watcher sees it once.
    approve(config, older, by="bob")
    assert registry_requests(config) == [{"version": older, "request": "approved"}]
    result = promote(config, DAY)
    assert result["status"] == "refused" and registry.aliases()[CHAMPION] == "1"
    assert registry_requests(config) == []
    promote(config, "2026-09-11")
    (refusal,) = _lines(lake, alert="approval_refused")
    assert refusal["model_version"] == older and "superseded on 2026-09-09" in refusal["reason"]
    assert "bob" in refusal["reason"]
    with pytest.raises(PromotionRefused, match="superseded.*force=true"):
        promote(config, DAY, version=older)


def test_an_approved_version_compared_with_an_older_champion_is_not_promoted(world) -> None:
    """The demo's case: v3 "beats champion v1" is approved after v2 replaced v1 (here: promoted, then moved by
    hand); it must not replace v2."""
    config, registry, lake, _ = world
    first = _requested(world, "2026-09-08", "yes")
    stale = _requested(world, "2026-09-09", "yes")  # compared with v1 too
    registry.set_alias(CHALLENGER, stale)
    registry.set_tags(first, {"approval": "approved", "approved_by": "alice"})
    assert promote(config, DAY, version=first, by="carol", force=False)["status"] == "promoted"
    # the champion changed: the request compared with v1 is superseded, with a line of the promote run
    assert registry.get(stale).approval == "superseded"
    (line,) = _lines(lake, alert="approval_superseded", model_version=stale)
    assert line["dag_id"] == "modelguard_promote" and f"compared with champion v1, and v{first}" in line["reason"]
    approve(config, stale, by="alice")
    assert promote(config, "2026-09-11")["status"] == "refused"
    assert registry.aliases()[CHAMPION] == first
    # a hand move in the UI supersedes what was compared with the champion it replaced, too
    third = _requested(world, "2026-09-12", "yes")  # compared with `first`
    registry.set_alias(CHAMPION, "1")
    approve(config, third, by="alice")
    assert promote(config, "2026-09-13")["status"] == "recorded_manual_move"
    assert registry.get(third).approval == "superseded"
    assert promote(config, "2026-09-13")["status"] != "promoted" and registry.aliases()[CHAMPION] == "1"
    assert registry_requests(config) == []
    # by hand: refused without force, and the refusal says why and how
    with pytest.raises(PromotionRefused, match="superseded on 2026-09-13.*force=true"):
        promote(config, "2026-09-14", version=third, by="dave")
    registry.client.delete_model_version_tag(registry.name, third, "superseded_on")  # only the comparison is left
    with pytest.raises(PromotionRefused, match=f"compared with champion v{first}, but v1 serves now.*force=true"):
        promote(config, "2026-09-14", version=third, by="dave")
    assert promote(config, "2026-09-14", version=third, force=True, by="dave")["status"] == "promoted"
    (forced,) = _lines(lake, action="promote", model_version=third)
    assert forced["forced_by"] == "dave" and "[forced by dave]" in forced["reason"]


def test_promote_roll_back_and_promote_again_on_one_day_logs_three_moves(world) -> None:
    config, registry, lake, _ = world
    version = _requested(world, "2026-09-08", "yes")
    assert promote(config, DAY, version=version, by="alice")["status"] == "promoted"
    assert rollback(config, DAY, version="1", by="bob")["status"] == "rolled_back"
    assert promote(config, DAY, version=version, by="carol")["status"] == "promoted"
    moves = [(e["action"], e["model_version"]) for e in decisions.read_decisions(lake)
             if e["action"] in ("promote", "rollback")]
    assert moves == [("promote", version), ("rollback", "1"), ("promote", version)]
    assert len({e["move_id"] for e in _lines(lake, batch_id=DAY) if e["action"] in ("promote", "rollback")}) == 3
    assert _logged_champion(lake, registry) == version
    # the next run does not take the registry for "moved by hand"
    assert promote(config, "2026-09-11")["status"] == "nothing_approved"
    assert registry.get(version).tags["promoted_by"] == "carol"
    assert registry.aliases() == {CHAMPION: version, PREVIOUS_CHAMPION: "1"}
    assert not [e for e in decisions.read_decisions(lake) if "moved_by" in e]  # no hand move seen


def test_a_rerun_of_the_same_move_is_one_line_and_a_repeated_move_is_another(world) -> None:
    config, registry, lake, _ = world
    version = _requested(world, "2026-09-08", "yes")
    promote(config, DAY, version=version, by="alice")
    an_hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    for n in (1, 2):  # the same rollback twice on one day, each by a mover that died half-way
        if n == 2:
            registry.set_alias(CHAMPION, version)  # served again (how is not under test here)
        intent = {"kind": "rollback", "to": "1", "from": version, "batch_id": DAY, "by": "guardrail", "at": an_hour_ago,
                  "owner": {"host": "gone", "pid": 1}, "id": f"rollback:v{version}->v1:intent{n}"}
        registry.set_model_tag(PENDING_MOVE_TAG, intent)
        assert repair(config)["to"] == "1"
        assert repair(config) is None  # done: a rerun finds no intent
        line = _lines(lake, action="rollback")[-1]
        # the completed move's line again (a retry of the logging): the same identity, no new line
        decisions.record(lake, batch_id=DAY, dag_id="modelguard_rollback", action="rollback", model_version="1",
                         reason="again", move_id=line["move_id"])
    rollbacks = _lines(lake, action="rollback")
    assert [e["move_id"] for e in rollbacks] == [f"rollback:v{version}->v1:intent{n}" for n in (1, 2)]
    assert all(e["rolled_back"] == version for e in rollbacks)


def test_a_forced_promotion_by_the_dag_names_the_airflow_user_who_triggered_it(world, monkeypatch) -> None:
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from modelguard.config import config_path
    from modelguard.replay import ensure_metadata_db

    config, registry, lake, _ = world
    version = _requested(world, "2026-09-08", "yes")
    registry.set_tags(version, {"comparison": "failed"})  # only force promotes it
    monkeypatch.setenv("MODELGUARD_CONFIG", str(config_path(config.base_dir / "pipeline.yaml")))
    ensure_metadata_db(Path(os.environ["AIRFLOW_HOME"]))
    dag = DagBag(dag_folder=str(PROJECT / "dags" / "modelguard_promote.py")).dags["modelguard_promote"]
    run = dag.test(logical_date=pendulum.parse(DAY), run_conf={"batch_id": DAY, "version": version, "force": True})
    assert str(getattr(run.state, "value", run.state)) == "success"
    (line,) = _lines(lake, action="promote")
    # dag.test's runs are triggered by "dag_test" (a UI or REST trigger records the logged-in user)
    assert line["by"] == "dag_test" and line.get("forced_by") == "dag_test"
    assert registry.get(version).tags["promoted_by"] == "dag_test"


def test_a_crash_between_a_move_and_its_line_is_finished_and_logged_by_the_retry(world, monkeypatch) -> None:
    """The alias moved, then the mover died before its decision line: the intent stays until the line is written,
    so the retry completes the move (a no-op) and logs it under its move_id; it is never taken for a hand move."""
    import modelguard.promote as promotion

    config, registry, lake, _ = world
    version = _requested(world, "2026-09-08", "yes")
    approve(config, version, by="alice")
    record = promotion.decisions.record

    def dies_before_the_line(*args, **kwargs):
        if kwargs.get("action") == "promote":
            raise OSError("the worker died")
        return record(*args, **kwargs)

    monkeypatch.setattr(promotion.decisions, "record", dies_before_the_line)
    with pytest.raises(OSError):
        promote(config, DAY)
    monkeypatch.undo()
    assert registry.aliases()[CHAMPION] == version and PENDING_MOVE_TAG in registry.model_tags()
    promote(config, DAY)  # the task's retry
    (line,) = _lines(lake, action="promote")
    assert line["model_version"] == version and line["by"] == "alice" and line["move_id"].startswith("promote:v1->")
    assert PENDING_MOVE_TAG not in registry.model_tags()
    assert registry.aliases()[PREVIOUS_CHAMPION] == "1"


def test_a_challenger_that_lost_never_withdraws_a_request_that_won(world) -> None:
    """Under a performance drop the search goes on beside a pending partial fix; a new challenger that does not
    beat the champion is registered (rejected) but leaves the alias, and the request, to the one that did."""
    config, registry, lake, estimator = world
    partial = _requested(world, "2026-09-08", "partial")
    lost, _ = registry.register(estimator, train_key="challenger-lost", run_name="lost", metrics={},
                                tags={"trigger": "performance", "comparison": "failed", "compared_with": "1",
                                      "trained_on": "2026-09-09"})
    registry.set_tags(lost, {"approval": "not_requested"})
    assert _take_challenger_alias(registry, lost, lake=lake, batch_id="2026-09-09") is False
    assert registry.aliases()[CHALLENGER] == partial and registry.get(partial).approval == "pending"
    assert not _lines(lake, alert="approval_superseded")
    approve(config, partial, by="alice")
    assert promote(config, DAY)["version"] == partial


def test_a_rollback_asked_today_goes_before_an_approved_promotion(world) -> None:
    """The demo's reversal: the day's assessment asks to roll the serving champion back while a person has just
    approved a challenger compared with it. The stable model is restored first: the promote run holds."""
    config, registry, lake, _ = world
    version = _requested(world, "2026-09-08", "yes")
    approve(config, version, by="alice")
    lake.write_json({"rollback": True, "aliases": registry.aliases(), "actions": []},
                    lake.report_dir(DAY) / "assessment.json")
    assert promote(config, DAY)["status"] == "held_for_rollback"
    assert registry.aliases()[CHAMPION] == "1" and not _lines(lake, action="promote")
    assert promote(config, "2026-09-11")["version"] == version  # another day: no rollback asked, it is promoted

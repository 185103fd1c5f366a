"""A stateful property test: random interleavings of what happens to a deployed pipeline (batches land
good or broken, days are ingested and rerun, quarantined batches are fixed and released and their days
rerun, labels arrive, people approve and reject, promotions run, a mover dies half-way through an alias
move, an undecided challenger is re-checked while the days it is judged on are retracted) on a real lake
and a real MLflow registry (SQLite store), with the invariants checked after every step:

- exactly one champion, and the decision log explains it (the first champion, or a promote/rollback line);
- every ingested day's file has one verdict, with a line: accepted (or released) xor quarantined;
- no decision line is ever lost or rewritten between two steps;
- every champion was compared with the version it replaced (unless a person forced it or moved it by hand),
  however eagerly people approve and however often the champion moves on one day.
- a challenger's judged sequence only grows (what was judged stays its prefix); a re-check never fails, and
  one that finds a judged day retracted ends the evaluation, so the policy stops asking for re-checks.
- a malformed `batch_id` (a path, an impossible or non-canonical date, a Param after today) is refused by
  every entry point, and leaves every lake file and the registry's aliases as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from modelguard import decisions, model
from modelguard.bootstrap import initialise
from modelguard.challenge import _take_challenger_alias, challenge, recheck
from modelguard.config import load_config
from modelguard.dag_support import batch_ids_from
from modelguard.ingest import ingest_batch, ingest_labels, release_batch
from modelguard.performance import labelled_batch_ids
from modelguard.policy_state import build_state
from modelguard.promote import promote, rollback, supersede_requests
from modelguard.registry import CHALLENGER, CHAMPION, PENDING_MOVE_TAG, Registry
from modelguard.score import score_batch
from modelguard.simulate import simulate
from modelguard.storage import Lake
from tests.conftest import write_config
from tests.test_hostile_params import lake_files

DAYS = [f"2026-09-0{d}" for d in range(1, 7)]
STEPS = {"examples": 0, "steps": 0, "seconds": 0.0, "released_reruns": 0, "refused": 0}
RECHECKS: dict[str, int] = {}  # what the re-checks found, over all examples
# What a hostile trigger may send as batch_id; the last is a valid date, refused only as a Param (after today).
MALFORMED = ["../reference/train", "../metrics/performance", "/etc/passwd", "2026-13-45", "20260901", "2026-W36-2",
             "2026-09-01/../../decisions"]
ENTRY_POINTS = {
    "ingest": ingest_batch, "labels": ingest_labels, "release": release_batch, "score": score_batch,
    "challenge": lambda config, day: challenge(config, day, trigger="manual"), "promote": promote,
    "rollback": rollback, "lake": lambda config, day: Lake(config.storage_root).predictions(day),
    "param": lambda config, day: batch_ids_from({"params": {"batch_id": day}}),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A lake with its first champion and the days' files held back, copied afresh for every example."""
    folder = tmp_path_factory.mktemp("template")
    config = load_config(write_config(folder, validation={"min_rows": 50}))
    simulate(config.storage_root, days=len(DAYS), rows=200, reference_rows=1500, incidents=[])
    initialise(config)
    lake = Lake(config.storage_root)
    source = folder / "source"
    source.mkdir()
    for day in DAYS:
        shutil.move(lake.landing("batches", day), source / f"{day}.parquet")
    # one fitted model, registered as challengers by the "register" rule (training is not under test here)
    estimator = model.fit(config.model, pd.read_parquet(lake.reference_train))
    import skops.io

    skops.io.dump(estimator, folder / "estimator.skops")
    return folder


class Pipeline(RuleBasedStateMachine):
    folder_root: Path
    template: Path

    @initialize()
    def fresh_lake(self) -> None:
        STEPS["examples"] += 1
        self.folder = self.folder_root / f"example-{STEPS['examples']}"
        shutil.copytree(self.template, self.folder)
        self.config = load_config(self.folder / "pipeline.yaml")
        self.lake = Lake(self.config.storage_root)
        self.registry = Registry(self.config)
        self.ingested: set[str] = set()
        self.moved_by_hand = False
        self.log: list[str] = []
        self.sequences: dict[str, pd.DataFrame] = {}  # each challenger's judged sequence, as last seen
        self.undecided: str | None = None  # the undecided challenger registered last (the rules below act on it)
        self.started = time.monotonic()

    def teardown(self) -> None:
        STEPS["seconds"] += time.monotonic() - self.started
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- the outside world ----------------------------------------------------------------------------
    @rule(day=st.sampled_from(DAYS), broken=st.booleans())
    def a_batch_lands(self, day: str, broken: bool) -> None:
        frame = pd.read_parquet(self.template / "source" / f"{day}.parquet")
        if broken:  # a null storm upstream
            frame.loc[frame.index[: int(len(frame) * 0.7)], "customer_age"] = np.nan
        self.lake.write_parquet(frame, self.lake.root / "landing" / "batches" / f"{day}.parquet")

    @rule(day=st.sampled_from(DAYS))
    def labels_arrive(self, day: str) -> None:
        labels = self.lake.simulation_dir / "labels" / f"{day}.parquet"
        if labels.exists():
            self.lake.copy_file(labels, self.lake.root / "landing" / "labels" / f"{day}.parquet")

    @rule(day=st.sampled_from(DAYS))
    def the_day_is_ingested_or_rerun(self, day: str) -> None:
        ingest_batch(self.config, day)
        ingest_labels(self.config, day)
        if self.lake.landing("batches", day) is not None:
            self.ingested.add(day)

    @rule(day=st.sampled_from(DAYS))
    def a_fixed_batch_is_released(self, day: str) -> None:
        if decisions.batch_status(self.lake, day) != "quarantined":
            return
        good = pd.read_parquet(self.template / "source" / f"{day}.parquet")
        self.lake.write_parquet(good, self.lake.quarantine_dir(day) / "fixed.parquet")
        release_batch(self.config, day)

    @rule(day=st.sampled_from(DAYS))
    def a_broken_day_is_quarantined_and_its_fix_released(self, day: str) -> None:
        """The whole incident in one step, so that released days are common enough to be rerun below."""
        self.a_batch_lands(day, broken=True)
        self.the_day_is_ingested_or_rerun(day)
        self.a_fixed_batch_is_released(day)
        if decisions.batch_status(self.lake, day) == "released":
            self._rerun_released(day)  # a replay over the range reaches it at once (and the rule below, later)

    @precondition(lambda self: any(decisions.batch_status(self.lake, d) == "released" for d in self.ingested))
    @rule(data=st.data())
    def a_released_day_is_rerun(self, data) -> None:
        """A replay over the range, a cleared task or a backfill reruns ingest on a released day: the release
        holds (its released file is re-validated, not the bad landing file), and the verdict adds no line."""
        self._rerun_released(data.draw(st.sampled_from(sorted(d for d in self.ingested
                                                             if decisions.batch_status(self.lake, d) == "released"))))

    def _rerun_released(self, day: str) -> None:
        STEPS["released_reruns"] += 1
        validated = self.lake.validated("batches", day).read_bytes()
        verdicts = [e for e in decisions.for_batch(self.lake, day) if e.get("kind") != "labels"]
        ingest_batch(self.config, day)
        ingest_labels(self.config, day)
        assert decisions.batch_status(self.lake, day) == "released"
        assert self.lake.validated("batches", day).read_bytes() == validated
        assert [e for e in decisions.for_batch(self.lake, day) if e.get("kind") != "labels"] == verdicts

    @rule(day=st.sampled_from(DAYS))
    def a_challenger_is_registered(self, day: str) -> None:
        self._register(day)

    def _register(self, day: str) -> None:
        import skops.io

        estimator = skops.io.load(self.template / "estimator.skops",
                                  trusted=skops.io.get_untrusted_types(file=self.template / "estimator.skops"))
        champion = self.registry.aliases()[CHAMPION]
        version, created = self.registry.register(
            estimator, train_key=f"challenger-{day}", run_name=f"challenger-{day}", metrics={},
            tags={"trigger": "performance", "comparison": "passed", "compared_with": champion, "trained_on": day})
        if created:
            self.registry.set_tags(version, {"approval": "pending"})
            # as the challenge stage does: the newest challenger takes the alias and supersedes older requests
            _take_challenger_alias(self.registry, version)
            if self.registry.aliases().get(CHALLENGER) == version:
                supersede_requests(self.lake, self.registry, day, "modelguard_challenge", challenger=version)
            decisions.record(self.lake, batch_id=day, dag_id="modelguard_challenge", action="request_approval",
                             model_version=version, reason="beats the champion")

    @rule(approve=st.booleans(), data=st.data())
    def a_person_answers_a_request(self, approve: bool, data) -> None:
        pending = [v for v in self.registry.versions() if v.approval == "pending"]
        if pending:
            version = data.draw(st.sampled_from(pending))
            self.registry.set_tags(version.version, {"approval": "approved" if approve else "rejected",
                                                     "approved_by": "hypothesis"})

    @rule(day=st.sampled_from(DAYS[:-1]), even_superseded=st.booleans())
    def eager_approval_of_every_pending_version(self, day: str, even_superseded: bool) -> None:
        """Two requests in a row (the search goes on), then an operator back from a weekend approves everything
        pending (and, from an old e-mail, what was superseded since: the MLflow UI lets them overwrite the tag),
        and the watcher's promote runs follow, once per change of the request set."""
        self._register(day)
        self._register(DAYS[DAYS.index(day) + 1])
        wanted = ("pending", "superseded") if even_superseded else ("pending",)
        for version in self.registry.versions():
            if version.approval in wanted:
                self.registry.set_tags(version.version, {"approval": "approved", "approved_by": "eager operator"})
        for _ in range(2):
            promote(self.config, day)
        self.moved_by_hand = False

    @rule(day=st.sampled_from(DAYS), data=st.data())
    def repeated_moves_on_one_day(self, day: str, data) -> None:
        """Promote a version by hand, roll back, promote it again, all on one day: every move is a line."""
        if PENDING_MOVE_TAG in self.registry.model_tags() or self.moved_by_hand:
            return
        self._register(day)  # a version to move to, at least
        champion = self.registry.aliases()[CHAMPION]
        others = [v.version for v in self.registry.versions() if v.version != champion]
        if not others:
            return
        version = data.draw(st.sampled_from(others))
        before = len(decisions.read_decisions(self.lake))
        promote(self.config, day, version=version, force=True, by="hypothesis")
        rollback(self.config, day, version=champion, by="hypothesis")
        promote(self.config, day, version=version, force=True, by="hypothesis")
        moves = [e for e in decisions.read_decisions(self.lake)[before:] if e["action"] in ("promote", "rollback")]
        assert [(e["action"], e["model_version"]) for e in moves] == [
            ("promote", version), ("rollback", champion), ("promote", version)], moves

    @rule(day=st.sampled_from(DAYS))
    def the_promote_run(self, day: str) -> None:
        promote(self.config, day)
        self.moved_by_hand = False  # the run records a hand-moved alias, and completes or drops intents

    @rule(day=st.sampled_from(DAYS), data=st.data())
    def a_mover_dies_half_way(self, day: str, data) -> None:
        """A promotion wrote its intent and died (its worker gone) before moving any alias: one whose gates passed
        (approved, compared with the champion that serves, not superseded)."""
        champion = self.registry.aliases()[CHAMPION]
        candidates = [v.version for v in self.registry.versions() if v.approval == "approved"
                      and v.version != champion and v.tags.get("compared_with") == champion
                      and not v.tags.get("superseded_on")]
        if candidates and PENDING_MOVE_TAG not in self.registry.model_tags():
            an_hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
            self.registry.set_model_tag(PENDING_MOVE_TAG, {
                "kind": "promote", "to": data.draw(st.sampled_from(candidates)),
                "from": self.registry.aliases()[CHAMPION], "batch_id": day, "by": "a crashed worker",
                "at": an_hour_ago, "owner": {"host": "gone", "pid": 1}})

    @rule(data=st.data())
    def a_person_moves_champion_in_the_ui(self, data) -> None:
        others = [v.version for v in self.registry.versions() if v.version != self.registry.aliases()[CHAMPION]]
        if others:
            self.registry.set_alias(CHAMPION, data.draw(st.sampled_from(others)))
            self.moved_by_hand = True

    # --- undecided challengers and the days they are judged on ----------------------------------------
    @rule(day=st.sampled_from(DAYS))
    def the_day_is_scored(self, day: str) -> None:
        score_batch(self.config, day)

    def _load_estimator(self):
        import skops.io

        path = self.template / "estimator.skops"
        return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))

    @rule(day=st.sampled_from(DAYS), retract=st.sampled_from([None, "batch", "labels"]))
    def an_undecided_challenger_is_registered(self, day: str, retract: str | None) -> None:
        """As the challenge stage leaves one that is ahead but not proven: judged on `day` (brought up to
        labelled and scored first, through the stages, unless its batch is quarantined), re-checked later;
        with `retract`, that day is retracted at once (else later, or never, by the rules below)."""
        if self.lake.landing("batches", day) is None:
            self.a_batch_lands(day, broken=False)
        self.labels_arrive(day)
        self.the_day_is_ingested_or_rerun(day)
        score_batch(self.config, day)
        if day not in labelled_batch_ids(self.lake, day):
            return
        champion = self.registry.aliases()[CHAMPION]
        version, created = self.registry.register(
            self._load_estimator(), train_key=f"undecided-{day}", run_name=f"undecided-{day}", metrics={},
            tags={"trigger": "schedule", "trained_on": day, "compared_with": champion, "comparison": "failed",
                  "holdout_days": json.dumps([day]), "holdout_split": "null", "seen_until": day, "last_look": day})
        if created:
            self.registry.set_tags(version, {"approval": "evaluating"})
            self.registry.set_alias(CHALLENGER, version)
            self.undecided = version
            if retract:
                self.a_judged_day_is_retracted(day, labels=retract == "labels")

    @precondition(lambda self: self.undecided is not None)
    @rule(day=st.sampled_from(DAYS), labels=st.booleans())
    def a_judged_day_is_retracted(self, day: str, labels: bool) -> None:
        """A day the undecided challenger is judged on is re-quarantined (a broken file replaces its landing
        file and the day is rerun), or its corrected label file fails validation; then the next look."""
        judged = self.sequences.get(self.undecided)
        days = sorted(set(judged["_batch_id"])) if judged is not None and len(judged) else \
            json.loads(self.registry.get(self.undecided).tags.get("holdout_days") or "[]")
        day = days[DAYS.index(day) % len(days)] if days else day
        if labels:
            path = self.lake.validated("labels", day)
            if path.exists():
                broken = pd.read_parquet(path).assign(is_fraud=7)  # not a class
                self.lake.write_parquet(broken, self.lake.root / "landing" / "labels" / f"{day}.parquet")
                ingest_labels(self.config, day)
        elif self.lake.validated("batches", day).exists():
            self.a_batch_lands(day, broken=True)
            ingest_batch(self.config, day)
            self.ingested.add(day)
        self.an_undecided_challenger_is_rechecked(DAYS[-1])

    @precondition(lambda self: self.undecided is not None)
    @rule(day=st.sampled_from(DAYS))
    def an_undecided_challenger_is_rechecked(self, day: str) -> None:
        result = recheck(self.config, day)  # never raises, whatever was retracted
        RECHECKS[result["status"]] = RECHECKS.get(result["status"], 0) + 1
        if result["status"] == "retracted":
            assert self.registry.get(result["version"]).approval == "superseded"
            line = [e for e in decisions.read_decisions(self.lake) if e.get("alert") == "holdout_retracted"
                    and e["model_version"] == result["version"]]
            assert line and result["retracted_day"] in line[-1]["reason"]
            assert not build_state(self.config, day).challenger_evaluating  # no re-check asked for ever after
        challenger = self.registry.by_alias(CHALLENGER)
        if challenger is None or challenger.approval != "evaluating":
            self.undecided = None

    @rule(bad=st.sampled_from([*MALFORMED, "2099-01-01"]), entry=st.sampled_from(sorted(ENTRY_POINTS)))
    def a_malformed_param_reaches_an_entry_point(self, bad: str, entry: str) -> None:
        """Past the Param's schema (a harness calling the domain, a scheduler without it): refused, nothing moves."""
        if bad == "2099-01-01" and entry != "param":
            return  # a date: only a person's request is held to today (a timeline may lie anywhere)
        before, aliases = lake_files(self.lake.root), self.registry.aliases()
        with pytest.raises(ValueError, match="batch_id") as refused:
            ENTRY_POINTS[entry](self.config, bad)
        assert repr(bad) in str(refused.value) or bad in str(refused.value)
        assert lake_files(self.lake.root) == before, f"{entry}({bad!r}) changed the lake"
        assert self.registry.aliases() == aliases
        STEPS["refused"] += 1

    @precondition(lambda self: bool(self.ingested))
    @rule()
    def nothing(self) -> None:
        pass

    # --- what must always hold --------------------------------------------------------------------------
    @invariant()
    def no_line_is_lost_or_rewritten(self) -> None:
        STEPS["steps"] += 1
        path = self.lake.decisions_log
        now = path.read_text().splitlines() if path.exists() else []
        assert now[: len(self.log)] == self.log, "a decision line was lost or rewritten"
        self.log = now

    @invariant()
    def exactly_one_champion_explained_by_the_log(self) -> None:
        champion = self.registry.aliases().get(CHAMPION)
        assert champion is not None
        if self.moved_by_hand or PENDING_MOVE_TAG in self.registry.model_tags():
            return  # until the next promote run: it records the hand move, completes or drops the intent
        moves = [e["model_version"] for e in decisions.read_decisions(self.lake)
                 if e["action"] in ("promote", "rollback")]
        assert champion == (moves[-1] if moves else "1"), (champion, moves)

    @invariant()
    def every_champion_was_compared_with_the_version_it_replaced(self) -> None:
        versions = {v.version: v for v in self.registry.versions()}
        for entry in decisions.read_decisions(self.lake):
            if entry["action"] != "promote" or entry.get("forced_by") or entry.get("moved_by"):
                continue  # a person's own choice: forced, or the alias moved by hand
            promoted = versions[entry["model_version"]]
            if promoted.tags.get("trigger") == "init":
                continue
            assert promoted.tags.get("compared_with") == entry.get("previous_champion"), (entry, promoted.tags)

    @invariant()
    def every_ingested_file_has_one_verdict(self) -> None:
        for day in self.ingested:
            status = decisions.batch_status(self.lake, day)
            accepted = self.lake.validated("batches", day).exists()
            assert status in ("accepted", "released", "quarantined"), (day, status)
            assert accepted == (status in decisions.USABLE), (day, status, accepted)
            if status == "quarantined":
                assert json.loads((self.lake.quarantine_dir(day) / "reason.json").read_text())["reason"]
                assert not self.lake.predictions(day).exists()

    @invariant()
    def a_judged_sequence_only_grows(self) -> None:
        """What a challenger was judged on stays the prefix of what it is judged on: same days, rows, order,
        and labels as judged (a late day, corrected labels or a retraction never rewrite it)."""
        for path in sorted((self.lake.root / "challengers").glob("*/sequence.parquet")):
            version, now = path.parent.name, pd.read_parquet(path)
            before = self.sequences.get(version)
            if before is not None:
                assert len(now) >= len(before), (version, len(before), len(now))
                pd.testing.assert_frame_equal(now.iloc[: len(before)].reset_index(drop=True), before)
            self.sequences[version] = now


def test_random_timelines_keep_the_invariants(template, tmp_path) -> None:
    Pipeline.template, Pipeline.folder_root = template, tmp_path
    started = time.monotonic()
    run_state_machine_as_test(Pipeline, settings=settings(
        max_examples=20, stateful_step_count=12, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    print(f"\nstate machine: {STEPS['examples']} examples, {STEPS['steps']} checked steps, "
          f"{STEPS['released_reruns']} reruns of released days, {STEPS['refused']} malformed Params refused, "
          f"{time.monotonic() - started:.0f} s; re-checks: {RECHECKS}")
    assert STEPS["examples"] >= 20 and STEPS["refused"] > 0
    assert STEPS["released_reruns"] >= 1, "no released day was rerun: that rule tested nothing"
    assert RECHECKS.get("retracted", 0) >= 1, f"no re-check met a retracted day: the rule is not exercised {RECHECKS}"

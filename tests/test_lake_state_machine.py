"""A stateful property test: random interleavings of what happens to a deployed pipeline (batches land
good or broken, days are ingested and rerun, quarantined batches are fixed and released, labels arrive,
people approve and reject, promotions run, a mover dies half-way through an alias move) on a real lake
and a real MLflow registry (SQLite store), with the invariants checked after every step:

- exactly one champion, and the decision log explains it (the first champion, or a promote/rollback line);
- every ingested day's file has one verdict, with a line: accepted (or released) xor quarantined;
- no decision line is ever lost or rewritten between two steps;
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
from modelguard.challenge import challenge
from modelguard.config import load_config
from modelguard.dag_support import batch_ids_from
from modelguard.ingest import ingest_batch, ingest_labels, release_batch
from modelguard.promote import promote, rollback
from modelguard.registry import CHAMPION, PENDING_MOVE_TAG, Registry
from modelguard.score import score_batch
from modelguard.simulate import simulate
from modelguard.storage import Lake
from tests.conftest import write_config
from tests.test_hostile_params import lake_files

DAYS = [f"2026-09-0{d}" for d in range(1, 7)]
STEPS = {"examples": 0, "steps": 0, "seconds": 0.0, "refused": 0}
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
    def a_challenger_is_registered(self, day: str) -> None:
        import skops.io

        estimator = skops.io.load(self.template / "estimator.skops",
                                  trusted=skops.io.get_untrusted_types(file=self.template / "estimator.skops"))
        champion = self.registry.aliases()[CHAMPION]
        version, created = self.registry.register(
            estimator, train_key=f"challenger-{day}", run_name=f"challenger-{day}", metrics={},
            tags={"trigger": "performance", "comparison": "passed", "compared_with": champion, "trained_on": day})
        if created:
            self.registry.set_tags(version, {"approval": "pending"})
            decisions.record(self.lake, batch_id=day, dag_id="modelguard_challenge", action="request_approval",
                             model_version=version, reason="beats the champion")

    @rule(approve=st.booleans(), data=st.data())
    def a_person_answers_a_request(self, approve: bool, data) -> None:
        pending = [v for v in self.registry.versions() if v.approval == "pending"]
        if pending:
            version = data.draw(st.sampled_from(pending))
            self.registry.set_tags(version.version, {"approval": "approved" if approve else "rejected",
                                                     "approved_by": "hypothesis"})

    @rule(day=st.sampled_from(DAYS))
    def the_promote_run(self, day: str) -> None:
        promote(self.config, day)
        self.moved_by_hand = False  # the run records a hand-moved alias, and completes or drops intents

    @rule(day=st.sampled_from(DAYS), data=st.data())
    def a_mover_dies_half_way(self, day: str, data) -> None:
        """A promotion wrote its intent and died (its worker gone) before moving any alias."""
        candidates = [v.version for v in self.registry.versions() if v.approval == "approved"
                      and v.version != self.registry.aliases()[CHAMPION]]
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
    def every_ingested_file_has_one_verdict(self) -> None:
        for day in self.ingested:
            status = decisions.batch_status(self.lake, day)
            accepted = self.lake.validated("batches", day).exists()
            assert status in ("accepted", "released", "quarantined"), (day, status)
            assert accepted == (status in decisions.USABLE), (day, status, accepted)
            if status == "quarantined":
                assert json.loads((self.lake.quarantine_dir(day) / "reason.json").read_text())["reason"]
                assert not self.lake.predictions(day).exists()


def test_random_timelines_keep_the_invariants(template, tmp_path) -> None:
    Pipeline.template, Pipeline.folder_root = template, tmp_path
    started = time.monotonic()
    run_state_machine_as_test(Pipeline, settings=settings(
        max_examples=20, stateful_step_count=12, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    print(f"\nstate machine: {STEPS['examples']} examples, {STEPS['steps']} checked steps, "
          f"{STEPS['refused']} malformed Params refused, {time.monotonic() - started:.0f} s")
    assert STEPS["examples"] >= 20 and STEPS["refused"] > 0

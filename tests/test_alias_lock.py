"""Every alias write is serialised: one lock (alias_lock) for champion, challenger, previous_champion and the
move intent, with an owner, and each write a compare-and-set. On a real MLflow registry (SQLite store) and a
real lake, with real OS processes racing each other."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import re
import signal
import time
from pathlib import Path

import pytest

from modelguard import decisions
from modelguard.challenge import _take_challenger_alias
from modelguard.config import load_config
from modelguard.promote import _move, promote, rollback
from modelguard.registry import CHALLENGER, CHAMPION, PENDING_MOVE_TAG, PREVIOUS_CHAMPION, Registry
from modelguard.storage import Lake
from tests.conftest import PROJECT, write_config

ROUNDS = 50
FIRST_DAY = dt.date(2025, 3, 1)


def _challenger_of_round(r: int) -> str:
    return str(r + 2)  # v1 is the first champion; round r registers v(r+2)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A registry with a first champion (v1, trigger=init) and one version per round, all of one fitted model
    (training is not under test here), and an empty lake. Returns the config file."""
    folder = tmp_path_factory.mktemp("aliases")
    config_file = write_config(folder)
    from sklearn.dummy import DummyClassifier

    registry = Registry(load_config(config_file))
    estimator = DummyClassifier(strategy="prior").fit([[0], [1]], [0, 1])
    first, _ = registry.register(estimator, train_key="init", run_name="champion-init", metrics={},
                                 tags={"trigger": "init", "approval": "approved"})
    registry.set_alias(CHAMPION, first)  # what init does
    source = registry.client.get_model_version(registry.name, first)
    for _ in range(ROUNDS + 1):
        registry.client.create_model_version(registry.name, source.source, run_id=source.run_id,
                                             tags={"trigger": "manual", "approval": "approved"})
    return config_file


# --- the lock itself --------------------------------------------------------------------------------------
def test_a_write_is_refused_when_the_aliases_changed_outside_the_lock(world) -> None:
    from modelguard.alias_lock import AliasChanged, hold

    config = load_config(world)
    registry = Registry(config)
    before = registry.alias_state()
    with hold(config, "test") as lock:
        registry.set_alias(CHALLENGER, "3")  # a person, in the MLflow UI, while the holder decides
        with pytest.raises(AliasChanged, match=r"challenger vNone -> v3.*the retry looks again"):
            lock.set(CHALLENGER, "4")
        assert registry.aliases().get(CHALLENGER) == "3"  # refused: nothing written
        with pytest.raises(AliasChanged):
            lock.delete(CHALLENGER)
        with pytest.raises(AliasChanged):
            lock.set_intent({"kind": "promote", "to": "4"})
        assert registry.alias_state()[1] is None
    registry.delete_alias(CHALLENGER)
    with hold(config, "test") as lock:  # a retry looks again: what it sees now is what it compares with
        with pytest.raises(AliasChanged, match="champion is v1, expected vNone"):
            lock.set(CHAMPION, "4", expect=None)  # a second init does not replace the first one's champion
        lock.set(CHALLENGER, "4")
        lock.delete(CHALLENGER)
    assert registry.alias_state() == before


def test_an_alias_write_without_the_lock_is_refused(world) -> None:
    registry = Registry(load_config(world))
    with pytest.raises(RuntimeError, match="outside the alias lock"):
        _move(registry, "promote", "4", "1", "2025-01-01", "nobody")
    with pytest.raises(RuntimeError, match="outside the alias lock"):
        _take_challenger_alias.__wrapped__(registry, "4")  # undecorated: the decorator is what takes the lock
    assert registry.alias_state() == ({CHAMPION: "1"}, None)


def _fork_safe() -> None:
    """SQLAlchemy's way across a fork: the parent's pooled connections stay its own."""
    import gc

    from sqlalchemy.engine import Engine

    for engine in [o for o in gc.get_objects() if isinstance(o, Engine)]:
        engine.dispose(close=False)


def _hold_until_killed(config_file: str, ready) -> None:
    from modelguard.alias_lock import hold

    _fork_safe()
    with hold(load_config(config_file), "a mover that will die"):
        ready.set()
        time.sleep(600)


def test_a_live_owner_is_named_and_kept_and_a_dead_owners_lock_is_taken_over(world) -> None:
    from modelguard.alias_lock import AliasLockBusy, hold

    config = load_config(world)
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_hold_until_killed, args=(str(world), ready))
    child.start()
    try:
        assert ready.wait(timeout=60)
        started = time.monotonic()
        with pytest.raises(AliasLockBusy, match=rf"held by a mover that will die .*pid {child.pid}\).*the retry"), \
                hold(config, "a waiter", wait=0.5):
            pass
        assert time.monotonic() - started < 5
    finally:
        os.kill(child.pid, signal.SIGKILL)  # dies holding it: no release written
        child.join()
    started = time.monotonic()
    with hold(config, "the next mover", wait=5) as lock:
        assert time.monotonic() - started < 1  # the kernel freed it with its owner: no lease to sit out
        assert lock.took_over["pid"] == child.pid and lock.took_over["holder"].startswith("a mover that will die")
    with hold(config, "after a clean release", wait=5) as lock:
        assert lock.took_over is None


def test_every_alias_write_in_the_code_goes_through_the_lock() -> None:
    raw = re.compile(r"\.(set_alias|delete_alias|set_registered_model_alias|delete_registered_model_alias)\(|"
                     r"(set|delete)_model_tag\(PENDING_MOVE_TAG")
    for path in sorted((PROJECT / "include" / "modelguard").glob("*.py")):
        if path.name in ("alias_lock.py", "registry.py"):
            continue
        hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if raw.search(line)]
        assert not hits, f"{path.name} lines {hits} write an alias without alias_lock"


# --- challenge, promote and rollback racing, 50 rounds -------------------------------------------------------
def _race(role: str, config_file: str, rounds: int, start, done, errors, seed: int) -> None:
    """One process of the race: each round, what that DAG's task would do, with the day as batch_id."""
    _fork_safe()
    config = load_config(config_file)
    registry, lake, rng = Registry(config), Lake(config.storage_root), random.Random(seed)
    for r in range(rounds):
        start.wait(timeout=120)
        day = (FIRST_DAY + dt.timedelta(days=r)).isoformat()
        # land anywhere inside the others' moves: the challenger's write over a whole promotion's length
        time.sleep(rng.uniform(0, 0.6 if role == "challenge" else 0.1))
        try:
            if role == "challenge":
                version = _challenger_of_round(r)
                _take_challenger_alias(registry, version)
                decisions.record(lake, batch_id=day, dag_id="modelguard_challenge", action="register_challenger",
                                 model_version=version, reason="a new challenger")
            elif role == "promote":  # a person approving the challenger they see, or the one before
                target = registry.aliases().get(CHALLENGER) or str(r + 1)
                promote(config, day, version=target, force=True, by="racer")
            else:  # a person rolling back to the previous champion they see
                target = registry.aliases().get(PREVIOUS_CHAMPION)
                if target:
                    rollback(config, day, version=target, by="racer")
        except Exception as error:  # noqa: BLE001 - reported to the test, which fails on it
            errors.put(f"round {r} {role}: {type(error).__name__}: {str(error)[:300]}")
        done.wait(timeout=120)


def _what_the_log_explains(lake: Lake) -> tuple[dict, list[str]]:
    """The aliases the decision log says should be set, and how the log's own chain of moves breaks."""
    log = decisions.read_decisions(lake)
    champion, previous, broken = "1", None, []
    for entry in log:
        to = entry["model_version"]
        if entry["action"] == "promote":
            moved_from = entry.get("previous_champion")
            if moved_from and moved_from != to:
                previous = moved_from
        elif entry["action"] == "rollback":
            moved_from = entry.get("rolled_back")
            if previous == to:
                previous = None
        else:
            continue
        if moved_from != champion:  # two movers at once: both moved away from the same champion
            broken.append(f"{entry['action']} to v{to} on {entry['batch_id']} moved from v{moved_from}, "
                          f"but the log's champion was v{champion}")
        champion = to
    promoted = {e["model_version"] for e in log if e["action"] == "promote"}
    challengers = [e["model_version"] for e in log if e["action"] == "register_challenger"]
    newest = max(challengers, key=int) if challengers else None
    expected = {CHAMPION: champion, PREVIOUS_CHAMPION: previous,
                CHALLENGER: newest if newest not in promoted else None}
    return {k: v for k, v in expected.items() if v}, broken


def test_challenge_promote_and_rollback_racing_keep_the_aliases_and_the_log_in_step(world) -> None:
    config = load_config(world)
    registry, lake = Registry(config), Lake(config.storage_root)
    context = multiprocessing.get_context("fork")  # forked: they start at once, MLflow already imported
    start, done, errors = context.Barrier(4), context.Barrier(4), context.Queue()
    racers = [context.Process(target=_race, args=(role, str(world), ROUNDS, start, done, errors, seed))
              for seed, role in enumerate(("challenge", "promote", "rollback"))]
    for racer in racers:
        racer.start()
    violations = []
    try:
        for r in range(ROUNDS):
            start.wait(timeout=120)
            done.wait(timeout=120)
            aliases, intent = registry.aliases(), registry.model_tags().get(PENDING_MOVE_TAG)
            expected, broken = _what_the_log_explains(lake)
            if aliases != expected or intent or broken:
                violations.append(f"after round {r}: aliases {aliases}, the log explains {expected}"
                                  + (f"; {broken[0]}" if broken else "") + (f"; intent left {intent}" if intent else ""))
            if violations:
                break
    finally:
        for racer in racers:
            racer.terminate() if violations else racer.join(timeout=30)
    while not errors.empty():
        violations.append(errors.get())
    moves = sum(e["action"] in ("promote", "rollback") for e in decisions.read_decisions(lake))
    assert not violations, "\n".join(violations[:5])
    assert moves >= ROUNDS  # the race really moved champion, most rounds twice

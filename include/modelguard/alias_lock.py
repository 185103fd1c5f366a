"""One lock for every alias write: `champion`, `challenger`, `previous_champion` and the `pending_alias_move`
intent. Promote, rollback, the repair of a half-done move, the challenger's alias and `init`'s first champion
all write through it, whether a scheduler's worker, `modelguard replay` (dag.test) or the CLI runs them.

Where it lives: an exclusive `flock` on `<lake>/.locks/aliases.lock`. Every process that writes aliases
already shares the lake (the decision log is locked the same way), across the containers of one host too
(compose's workers share the lake volume: one kernel). The kernel drops the lock the moment its owner dies
(SIGKILL, OOM, a container stopped), so a dead owner's lock is taken over at once, and no pid, hostname
(a container's own) or clock is guessed. A registered-model tag in MLflow was the other candidate: MLflow
has no compare-and-set, so two writers who both read "free" would both own it.

Its owner: while held, the lock file says who holds it (host, pid, the Airflow run or the command, since
when); a waiter that gives up names that owner, and a holder that finds an owner who never released says
it took over from a dead one. A live owner is never robbed: it may still write.

Each write is a compare-and-set: the holder re-reads the aliases and the intent, and writes only if they
are still what it saw when it took the lock (or last wrote itself); else `AliasChanged`, nothing written,
and the task's retry looks again. Within modelguard the lock already excludes every other writer; the
check catches the writer it cannot lock out: a person moving an alias in the MLflow UI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from modelguard.config import PipelineConfig
from modelguard.registry import PENDING_MOVE_TAG, Registry
from modelguard.storage import Lake, parse_batch_id

LOCK_NAME = "aliases"
WAIT_SECONDS = 120.0  # a move takes seconds; a holder slower than this is named in the waiter's error
_ANY = object()  # `expect` not given: only the whole-state check applies
_local = threading.local()
log = logging.getLogger(__name__)


class AliasLockError(RuntimeError):
    """An alias write was not made: nothing changed, and a retry looks again."""


class AliasLockBusy(AliasLockError):
    """Another process held the alias lock for longer than this one would wait."""


class AliasChanged(AliasLockError):
    """An alias (or the move intent) is no longer what the lock holder saw: someone outside the lock moved it."""


def holder_name(action: str) -> str:
    """What holds the lock: the action, and the Airflow task run (a worker, replay) or else the command."""
    run = [os.environ.get(f"AIRFLOW_CTX_{key}") for key in ("DAG_ID", "DAG_RUN_ID", "TASK_ID")]
    where = "/".join(run) if all(run) else " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])[:200]
    return f"{action} ({where})"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class AliasLock:
    """The held lock: the writes its holder may make, each a compare-and-set."""

    def __init__(self, registry: Registry, owner: dict, took_over: dict | None) -> None:
        self.registry = registry
        self.owner = owner
        self.took_over = took_over  # the record of a dead owner this holder took the lock over from
        self.seen = registry.alias_state()  # (aliases, intent) as this holder saw them

    def _compare(self, alias: str | None = None, expect: Any = _ANY) -> None:
        now = self.registry.alias_state()
        changed = [f"{name} v{self.seen[0].get(name)} -> v{now[0].get(name)}"
                   for name in sorted(set(self.seen[0]) | set(now[0])) if self.seen[0].get(name) != now[0].get(name)]
        if self.seen[1] != now[1]:
            changed.append(f"{PENDING_MOVE_TAG} {self.seen[1]} -> {now[1]}")
        if expect is not _ANY and now[0].get(alias) != expect:
            changed.append(f"{alias} is v{now[0].get(alias)}, expected v{expect}")
        if changed:
            raise AliasChanged(f"{self.registry.name}: not written, the aliases changed outside the alias lock "
                               f"({'; '.join(changed)}), by someone in the MLflow registry; the retry looks again")

    def set(self, alias: str, version: str, expect: Any = _ANY) -> None:
        """Point `alias` at `version` if nothing changed since this holder looked (and, given `expect`, the
        alias is that version now; None: unset)."""
        self._compare(alias, expect)
        self.registry.set_alias(alias, str(version))
        self.seen[0][alias] = str(version)

    def delete(self, alias: str) -> None:
        self._compare()
        if alias in self.seen[0]:
            self.registry.delete_alias(alias)
            del self.seen[0][alias]

    def set_intent(self, move: dict) -> None:
        """Write the `pending_alias_move` intent (a move is starting)."""
        self._compare()
        self.registry.set_model_tag(PENDING_MOVE_TAG, move)
        self.seen = (self.seen[0], json.dumps(move))

    def clear_intent(self) -> None:
        self._compare()
        self.registry.delete_model_tag(PENDING_MOVE_TAG)
        self.seen = (self.seen[0], None)


def _record(fd: int) -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(os.pread(fd, 4096, 0) or b"null")
    return None


def _write_record(fd: int, record: dict) -> None:
    data = json.dumps(record).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


@contextlib.contextmanager
def hold(config: PipelineConfig, action: str, registry: Registry | None = None,
         wait: float = WAIT_SECONDS) -> Iterator[AliasLock]:
    """Hold the alias lock of `config`'s lake (waiting up to `wait` seconds) for `action`. Re-entrant within
    a thread: promote's repair of a half-done move runs under the promote's own hold."""
    held_now = getattr(_local, "lock", None)
    if held_now is not None and held_now.owner["pid"] == os.getpid():
        yield held_now
        return
    path = Lake(config.storage_root).lock_path(LOCK_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline, pause = time.monotonic() + wait, 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    owner = _record(fd) or {}
                    raise AliasLockBusy(
                        f"{config.model.name}: the alias lock ({path}) is held by {owner.get('holder', 'unknown')} "
                        f"(host {owner.get('host')}, pid {owner.get('pid')}) since {owner.get('since')}; gave up "
                        f"after {wait:.0f} s, nothing written; the retry looks again") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.02)  # a move takes ~0.1-1 s: poll often, the check costs nothing
        previous = _record(fd)
        took_over = previous if previous and not previous.get("released_at") else None
        if took_over:
            log.warning("alias lock: taking over from %s (host %s, pid %s), which died holding it since %s",
                        took_over.get("holder"), took_over.get("host"), took_over.get("pid"), took_over.get("since"))
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "holder": holder_name(action), "since": _now()}
        _write_record(fd, owner)
        try:
            _local.lock = AliasLock(registry or Registry(config), owner, took_over)
            yield _local.lock
        finally:
            _local.lock = None
            _write_record(fd, {**owner, "released_at": _now()})
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def held() -> AliasLock:
    """The alias lock this thread holds; an alias write without it is a bug, not a race to tolerate."""
    lock = getattr(_local, "lock", None)
    if lock is None or lock.owner["pid"] != os.getpid():
        raise RuntimeError("an alias write outside the alias lock: wrap it in alias_lock.hold() / @serialised")
    return lock


def serialised(action: str, *, day: bool = False) -> Callable:
    """Run the decorated function under the alias lock, from its first read of the aliases to its decision
    line: its first argument is the PipelineConfig, or a Registry (its config); the second names what it acts on.
    `day`: that second argument is a batch day, refused (ValueError) before the lock is taken or anything written."""

    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def run(first, *args, **kwargs):
            config, registry = (first.config, first) if isinstance(first, Registry) else (first, None)
            subject = args[0] if args else kwargs.get("batch_id", "")
            if day:
                parse_batch_id(subject)
            with hold(config, f"{action} {subject}".strip(), registry=registry):
                return function(first, *args, **kwargs)

        return run

    return wrap

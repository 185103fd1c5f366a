"""Durability of lake writes and of the decision log: files reach the disk before they are renamed into
place, and the log is appended (never rewritten), so writers killed at any moment lose no acknowledged
line and leave no torn one."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

from modelguard import decisions
from modelguard.storage import Lake, atomic_path

ROUNDS = 36
WRITERS = 4


def test_an_atomic_write_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source, target) -> None:
        events.append(("rename", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "reports" / "x.json"
    with atomic_path(target) as tmp:
        tmp.write_text("{}")
    [(first, temp), (second, renamed), (third, folder)] = events
    assert (first, second, third) == ("fsync", "rename", "fsync")
    assert Path(temp).name.startswith(".x.json.") and renamed == str(target) and folder == str(target.parent)


def test_a_decision_is_appended_to_the_log_not_rewritten(tmp_path, monkeypatch) -> None:
    lake = Lake(tmp_path)
    decisions.record(lake, batch_id="2026-09-01", dag_id="modelguard_ingest", action="accept_batch", reason="ok")
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    inode = lake.decisions_log.stat().st_ino
    with open(lake.decisions_log, "rb") as reader:  # a reader holding the file open sees the new line
        reader.read()
        decisions.record(lake, batch_id="2026-09-02", dag_id="modelguard_ingest", action="accept_batch",
                         reason="ok")
        appended = reader.read()
    assert lake.decisions_log.stat().st_ino == inode, "the log was replaced, not appended to"
    assert json.loads(appended)["batch_id"] == "2026-09-02"
    assert synced == [str(lake.decisions_log)]  # the line is on disk before record() returns


def test_a_torn_tail_of_a_killed_writer_is_cut_off_by_the_next_append(tmp_path) -> None:
    lake = Lake(tmp_path)
    decisions.record(lake, batch_id="2026-09-01", dag_id="modelguard_ingest", action="accept_batch", reason="ok")
    with open(lake.decisions_log, "ab") as handle:
        handle.write(b'{"batch_id": "2026-09-02", "dag_id": "modelg')  # a write(2) cut short by SIGKILL
    decisions.record(lake, batch_id="2026-09-03", dag_id="modelguard_ingest", action="accept_batch", reason="ok")
    assert [e["batch_id"] for e in decisions.read_decisions(lake)] == ["2026-09-01", "2026-09-03"]


def _writer(root: Path, round_: int, writer: int, ack: int) -> None:
    """Record decisions as fast as possible; after each record() returns, acknowledge its line on `ack`."""
    lake = Lake(root)
    padding = "x" * random.Random(writer).randint(200, 1500)  # lines of varied length straddle page boundaries
    for line in range(100_000):
        entry = decisions.record(lake, batch_id="2026-09-01", dag_id="modelguard_ingest", action="no_action",
                                 alert=f"r{round_}-w{writer}-{line}", reason=f"stress {padding}")
        os.write(ack, (entry["alert"] + "\n").encode())  # a small pipe write: atomic


def test_writers_killed_mid_write_lose_no_acknowledged_line_and_leave_no_torn_one(tmp_path) -> None:
    lake = Lake(tmp_path)
    chance = random.Random(20)
    acknowledged: set[str] = set()
    tails = 0
    started = time.monotonic()
    for round_ in range(ROUNDS):
        read_end, write_end = os.pipe()
        children = []
        for writer in range(WRITERS):
            pid = os.fork()
            if pid == 0:  # the writer: no pytest teardown, no atexit, ever
                code = 1
                try:
                    os.close(read_end)
                    _writer(tmp_path, round_, writer, write_end)
                    code = 0
                finally:
                    os._exit(code)
            children.append(pid)
        os.close(write_end)
        for pid in children:  # each killed at its own random moment, most of them inside record()
            time.sleep(chance.uniform(0.005, 0.06))
            os.kill(pid, signal.SIGKILL)
        for pid in children:
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "a writer failed on its own"
        with os.fdopen(read_end, "rb") as acks:
            acknowledged.update(acks.read().decode().split())
        raw = lake.decisions_log.read_bytes()
        whole = raw[: raw.rfind(b"\n") + 1]
        # the kernel copies a write page by page, so a writer killed inside its write(2) may leave an
        # unterminated tail (never acknowledged): not a line, and cut off by the next append
        tails += whole != raw
        alerts = [json.loads(line)["alert"] for line in whole.decode().splitlines()]  # every line parses
        assert alerts == [e["alert"] for e in decisions.read_decisions(lake)]
        assert len(alerts) == len(set(alerts)), "a decision was written twice"
        assert acknowledged <= set(alerts), f"acknowledged lines lost: {sorted(acknowledged - set(alerts))[:5]}"
    decisions.record(lake, batch_id="2026-09-02", dag_id="modelguard_ingest", action="accept_batch", reason="ok")
    raw = lake.decisions_log.read_bytes()
    assert raw.endswith(b"\n") and all(json.loads(line) for line in raw.decode().splitlines())
    assert len(acknowledged) > ROUNDS * WRITERS, "the writers hardly wrote anything: the test tested nothing"
    print(f"\n{len(acknowledged)} lines acknowledged in {ROUNDS} rounds; unterminated tails seen: {tails}")
    assert time.monotonic() - started < 30

"""Pieces with no Prefect server: output streaming, the checkout lock, dvc.lock ordering."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import pytest

from gatedvae.orchestration.checkoutlock import exclusive_checkout
from gatedvae.orchestration.cli import format_summary
from gatedvae.orchestration.dvccli import _lines, run_dvc
from gatedvae.orchestration.lockorder import _wanted


def test_output_lines_split_on_newlines_and_carriage_returns():
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys; sys.stdout.write('a\\r\\nb\\rc\\n\\n  \\nd é\\n');"
                             "sys.stdout.flush(); sys.stderr.write('err, no newline')"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert list(_lines(proc.stdout)) == ["a", "b", "c", "d é", "err, no newline"]
    proc.wait()


def test_run_dvc_streams_every_line_and_reports_failure(tmp_path):
    seen = []
    run = run_dvc(["status"], tmp_path, seen.append)  # not a DVC repo: DVC says so and fails
    assert not run.ok and run.returncode != 0
    assert seen and seen == list(run.tail)
    assert any("not inside of a DVC repository" in line for line in seen)


def test_a_second_run_in_the_same_checkout_waits_for_the_first(tmp_path, caplog):
    (tmp_path / ".dvc").mkdir()
    released = tmp_path / "released"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import fcntl, os, time
os.makedirs({str(tmp_path / '.dvc/tmp')!r}, exist_ok=True)
f = open({str(tmp_path / '.dvc/tmp/gatedvae-flow.lock')!r}, 'a+')
fcntl.flock(f, fcntl.LOCK_EX)
f.write('pid holder'); f.flush()
print('held', flush=True)
time.sleep(1.0)
open({str(released)!r}, 'w').close()
"""], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    logger = logging.getLogger("test-checkout")
    with caplog.at_level(logging.WARNING, logger="test-checkout"):
        with exclusive_checkout(tmp_path, logger):
            assert released.exists()  # only got in after the holder let go
    holder.wait()
    assert "Another flow run (pid holder) is using" in caplog.text


def test_new_entries_go_in_repro_order_and_old_ones_stay():
    current = ["acquire", "train@b", "other", "train@a", "report"]
    before = ["acquire", "report"]
    plan = ["acquire", "train@a", "train@b", "other", "report"]
    assert _wanted(current, before, plan) == ["acquire", "report", "train@a", "train@b", "other"]
    assert _wanted(["x", "/b.txt", "/a.txt"], ["x"], ["/a.txt", "/b.txt"]) == ["x", "/a.txt", "/b.txt"]


def test_summary_table():
    text = format_summary({"acquire": {"state": "Cached", "action": "cached", "seconds": 0.0},
                           "train@a-0": {"state": "Completed", "action": "ran", "seconds": 12.34},
                           "report": {"state": "NotReady"}})
    assert text.splitlines() == [
        "stage      state      action     seconds",
        "acquire    Cached     cached     0.0",
        "train@a-0  Completed  ran        12.3",
        "report     NotReady   -          -",
    ]


def test_terminate_all_stops_a_running_stage_and_its_command(tmp_path):
    import os
    import threading

    from gatedvae.orchestration.dvccli import terminate_all
    from orch_toyproject import git, make_toy_repo

    root = make_toy_repo(tmp_path / "toy")
    (root / "dvc.yaml").write_text("""\
stages:
  slow:
    cmd: python -c "import os, time; open('pid', 'w').write(str(os.getpid())); time.sleep(300)"
    outs:
      - never.txt
""")
    git(root, "commit", "-qam", "slow stage")
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        run=run_dvc(["repro", "--single-item", "slow"], root, lambda line: None)))
    thread.start()
    pid_file = root / "pid"
    for _ in range(600):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    stage_pid = int(pid_file.read_text())
    assert terminate_all() == 1
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert not result["run"].ok
    for _ in range(100):  # the orphaned command is reaped by init shortly after
        try:
            os.kill(stage_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"stage command {stage_pid} still running")


def test_slots_per_gpu_hand_each_device_out_that_many_times_at_once():
    import threading

    from gatedvae.orchestration.gpu import GpuSlots

    slots = GpuSlots(None, ["0", "1"], slots_per_gpu=2)
    log = logging.getLogger("test")
    held, release, fifth = [], threading.Event(), []

    def hold():
        with slots.slot(log) as device:
            held.append(device)
            release.wait(10)

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    while len(held) < 4:
        time.sleep(0.01)
    assert sorted(held) == ["0", "0", "1", "1"]
    late = threading.Thread(target=lambda: fifth.append(slots.slot(log).__enter__()))
    late.start()
    time.sleep(0.2)
    assert not fifth  # a fifth stage waits for a place
    release.set()
    late.join(5)
    assert fifth and fifth[0] in ("0", "1")
    with pytest.raises(ValueError, match="slots_per_gpu must be >= 1"):
        GpuSlots(None, ["0"], slots_per_gpu=0)


def _take_a_place(devices, slots_per_gpu, lock_dir, then: str) -> subprocess.Popen:
    """Another process that takes a GPU place (waiting for one) and then runs `then` (device d)."""
    code = ("import logging, sys, time; from pathlib import Path\n"
            "from gatedvae.orchestration.gpu import device_slot\n"
            f"with device_slot({list(devices)!r}, {slots_per_gpu}, logging.getLogger(), 0.05, Path(sys.argv[1])) as d:\n"
            f"    {then}\n")
    return subprocess.Popen([sys.executable, "-c", code, str(lock_dir)], stdout=subprocess.PIPE, text=True)


def test_device_places_are_machine_locks_that_a_killed_holder_gives_back(tmp_path):
    """Per-stage dispatch shares a machine's cards through lock files: every card once before
    any twice, a stage beyond K per card waits, and a stage killed mid-run (SIGKILL, no clean-up
    code runs) frees its place at once."""
    import contextlib
    import signal

    from gatedvae.orchestration.gpu import device_slot, places_held

    log = logging.getLogger("test")
    with contextlib.ExitStack() as stack:
        got = [stack.enter_context(device_slot(["0", "1"], 2, log, lock_dir=tmp_path)) for _ in range(4)]
        assert got == ["0", "1", "0", "1"]
        assert len(places_held(["0", "1"], 2, lock_dir=tmp_path)) == 4
        waiter = _take_a_place(["0", "1"], 2, tmp_path, "print(d, flush=True)")
        time.sleep(1.0)
        assert waiter.poll() is None  # a fifth stage waits for a place
    assert waiter.wait(timeout=30) == 0 and waiter.stdout.read().strip() == "0"
    assert places_held(["0", "1"], 2, lock_dir=tmp_path) == []

    holder = _take_a_place(["0"], 1, tmp_path, "print('held', flush=True); time.sleep(600)")
    assert holder.stdout.readline().strip() == "held"
    assert places_held(["0"], 1, lock_dir=tmp_path) == ["gpu0-place0.lock"]
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert places_held(["0"], 1, lock_dir=tmp_path) == []
    with device_slot(["0"], 1, log, lock_dir=tmp_path) as device:
        assert device == "0"
    with pytest.raises(ValueError, match="slots_per_gpu must be >= 1"):
        with device_slot(["0"], 0, log, lock_dir=tmp_path):
            pass


def test_dispatch_refuses_uncommitted_changes_and_keys_attempts_apart(tmp_path):
    from gatedvae.orchestration.dispatch import committed_head, idempotency_key
    from gatedvae.orchestration.flow import PipelineFailed

    _git_repo(tmp_path, {"params.yaml": "a: 1\n"})
    head = committed_head(tmp_path)
    assert len(head) == 40
    (tmp_path / "params.yaml").write_text("a: 2\n")
    (tmp_path / "new.py").write_text("")
    with pytest.raises(PipelineFailed, match=r"uncommitted changes \(params.yaml, new.py\)"):
        committed_head(tmp_path)
    keys = {idempotency_key(head, "train@a-0", "remote", attempt, force)
            for attempt in (1, 2) for force in (None, "run-1")}
    assert len(keys) == 4
    assert idempotency_key(head, "train@a-0", "remote", 1, None) == idempotency_key(head, "train@a-0", "remote", 1, None)


def test_summary_table_of_a_dispatch_names_workers_and_attempts():
    text = format_summary({"acquire": {"state": "Completed", "action": "ran", "seconds": 1.5,
                                       "attempts": 1, "worker": "w1"},
                           "train@a-0": {"state": "Completed", "action": "run-cache", "seconds": 0.4,
                                         "attempts": 2, "worker": "w2"}})
    lines = text.splitlines()
    assert lines[0].split() == ["stage", "state", "action", "seconds", "attempts", "worker"]
    assert lines[2].split() == ["train@a-0", "Completed", "run-cache", "0.4", "2", "w2"]


def test_what_a_pipeline_run_writes_is_not_an_uncommitted_change(tmp_path):
    from gatedvae.orchestration.dispatch import committed_head
    from gatedvae.orchestration.flow import PipelineFailed

    _git_repo(tmp_path, {"dvc.lock": "schema: '2.0'\n"})
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ".gitignore").write_text("/raw.txt\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "summary.json").write_text("{}")
    assert committed_head(tmp_path, ["reports/summary.json", "data/raw.txt"])
    (tmp_path / "reports" / "notes.md").write_text("mine")
    with pytest.raises(PipelineFailed, match=r"uncommitted changes \(reports/notes.md\)"):
        committed_head(tmp_path, ["reports/summary.json"])


def _git_repo(root, files: dict):
    """A git repository at `root` with `files` committed; returns a `git(*args)` runner."""
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root,
                       check=True, capture_output=True)

    git("init", "-q")
    for name, text in files.items():
        (root / name).write_text(text)
    git("add", "-A")
    git("commit", "-qm", "one")
    return git

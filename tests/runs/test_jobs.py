"""Background jobs for real: worker processes, the queue, the run cache, cancel, a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from core.runs.jobs import submit, wait
from core.runs.resolve import load_run
from core.runs.store import RunStore
from tests.helpers import (
    ROOT,
    tiny_config,
    tiny_dataset,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_jobs_run_one_at_a_time_in_order_and_identical_ones_are_reused(tmp_path):
    store = RunStore(tmp_path / "runs")
    first = submit(tiny_config(), tiny_dataset(), store)
    second = submit(tiny_config(seed=7), tiny_dataset(), store)
    assert not first.reused and not second.reused
    assert first.message == f"Started run {first.record.id}."
    wait_for(store, first.record.id, lambda r: r.status == "running")
    assert store.get(second.record.id).status == "queued"

    done_first = wait(store, first.record.id, timeout_s=300)
    done_second = wait(store, second.record.id, timeout_s=300)
    assert (done_first.status, done_second.status) == ("completed", "completed")
    assert done_second.started_at >= done_first.finished_at
    assert done_first.device["kind"] == "cpu"
    assert done_first.baseline is not None and done_first.final is not None
    assert done_first.history[0]["step"] == 0 and len(done_first.history) == 2
    assert done_first.progress.phase == "done"

    again = submit(tiny_config(), tiny_dataset(), store)
    assert again.reused and again.record.id == first.record.id
    assert again.message.startswith(f"Reused completed run {first.record.id}")
    classifier = load_run(first.record.id, store, device="cpu")
    assert classifier.predict(["the app keeps crashing (3)"]) == ["tech"]
    leftovers = [p.name for p in store.path(first.record.id).iterdir() if p.name.startswith(".")]
    assert leftovers == []


def _long_config():
    # Far more epochs than the test waits for, and no early stop: it is stopped from outside.
    return tiny_config(epochs=200, early_stopping_patience=0, seed=3)


def test_cancel_stops_a_running_job_and_serves_no_model(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = submit(_long_config(), tiny_dataset(), store).record.id
    wait_for(store, run_id, lambda r: r.progress.phase == "finetune" and r.progress.step > 0)
    store.request_cancel(run_id)
    record = wait(store, run_id, timeout_s=120)
    assert record.status == "cancelled"
    assert not (store.path(run_id) / "model").exists()
    with pytest.raises(Exception, match="is cancelled: only a completed run can be used"):
        load_run(run_id, store)


def test_a_killed_worker_is_reported_as_failed_with_its_phase_and_log(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = submit(_long_config(), tiny_dataset(), store).record.id
    record = wait_for(store, run_id, lambda r: r.progress.phase == "finetune")
    os.kill(record.pid, signal.SIGKILL)
    record = wait(store, run_id, timeout_s=30)
    assert record.status == "failed"
    assert record.error["reason"] == (
        "the worker process stopped unexpectedly (killed, out of memory or the machine "
        "restarted) during the finetune phase"
    )
    assert any("phase finetune" in line for line in record.error["log_tail"])
    assert not (store.path(run_id) / "model").exists()


@pytest.mark.slow
def test_two_sessions_starting_the_same_finetune_at_once_create_one_run(tmp_path):
    root = tmp_path / "runs"
    sessions = 6
    barrier = threading.Barrier(sessions)
    results, errors = [], []

    def start() -> None:
        try:
            barrier.wait()
            results.append(submit(tiny_config(), tiny_dataset(), RunStore(root)))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len({s.record.id for s in results}) == 1
    assert sorted(s.reused for s in results) == [False] + [True] * (sessions - 1)
    store = RunStore(root)
    assert [r.id for r in store.list()] == [results[0].record.id]
    store.request_cancel(results[0].record.id)  # the test needs no training
    assert wait(store, results[0].record.id, timeout_s=120).status == "cancelled"


_START_AT = """
import sys, time
from core.runs.jobs import submit
from core.runs.store import RunStore
from tests.helpers import tiny_config, tiny_dataset
config, dataset, store = tiny_config(seed=7), tiny_dataset(), RunStore(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all processes start together
submission = submit(config, dataset, store)
print(submission.record.id, submission.reused)
"""


@pytest.mark.slow
def test_separate_processes_starting_the_same_finetune_at_once_create_one_run(tmp_path):
    # As two app servers (or an app and the CLI) sharing one runs folder would.
    root = tmp_path / "runs"
    start_at = f"{time.time() + 8:.3f}"  # after every process has imported what it needs
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _START_AT, str(root), start_at],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        run_id, reused = out.split()
        results.append((run_id, reused == "True"))
    assert len({run_id for run_id, _ in results}) == 1
    assert sorted(reused for _, reused in results) == [False, True, True]
    store = RunStore(root)
    [listed] = store.list()
    assert listed.id == results[0][0]
    store.request_cancel(listed.id)  # the test needs no training
    assert wait(store, listed.id, timeout_s=120).status in ("cancelled", "completed")

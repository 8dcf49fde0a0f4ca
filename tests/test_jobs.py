"""Background jobs for real: worker processes, the queue, the run cache, cancel, a killed worker."""

from __future__ import annotations

import os
import signal

import pytest

from core.runs.jobs import submit, wait
from core.runs.resolve import load_run
from core.runs.store import RunStore
from tests.engine_data import tiny_config, tiny_dataset, wait_for

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

"""Faults for real: the worker SIGKILLed in every phase, the app gone while a job trains, the
shared demo's training time cap. Each leaves a run that says what happened, and a retry works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from core.errors import RunError
from core.model.classifier import MODEL_DIR
from core.runs import jobs
from core.runs.jobs import submit, wait
from core.runs.resolve import load_run
from core.runs.store import RunStore
from tests.app.helpers import go, open_app, shown
from tests.helpers import ROOT, tiny_config, tiny_dataset, wait_for
from tests.runs.paused_worker import marker, start_paused

pytestmark = pytest.mark.slow


def _paused_in(store: RunStore, run_id: str, phase: str):
    """The record once the worker has logged its pause at the start of `phase`."""
    line = marker(phase)
    return wait_for(store, run_id, lambda r: any(line in seen for seen in store.log_tail(r.id)))


def test_a_worker_killed_in_each_phase_fails_cleanly_and_a_retry_succeeds(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    config, dataset = tiny_config(), tiny_dataset()
    run_id = None
    # "saved": the model is on disk, the run not yet marked completed (tests/runs/paused_worker).
    for phase, shown_phase in [
        ("baseline", "baseline"),
        ("finetune", "finetune"),
        ("head", "head"),
        ("saving", "saving"),
        ("saved", "saving"),
    ]:
        with monkeypatch.context() as held:  # the real worker, held still at `phase`
            held.setattr(jobs, "start_worker", start_paused(phase))
            submission = submit(config, dataset, store)  # after the first kill: a retry
        assert not submission.reused, phase
        run_id = run_id or submission.record.id
        assert submission.record.id == run_id
        record = _paused_in(store, run_id, phase)
        os.kill(record.pid, signal.SIGKILL)
        record = wait(store, run_id, timeout_s=30)
        assert record.status == "failed", phase
        assert record.error["reason"].endswith(f"during the {shown_phase} phase"), phase
        assert record.final is None
        if phase != "saved":
            assert not (store.path(run_id) / MODEL_DIR).exists(), phase
        # Whatever is on disk, a failed run is never served as a model.
        with pytest.raises(RunError, match=f"^run {run_id} is failed: only a completed run"):
            load_run(run_id, store)
    assert [r.status for r in store.list()] == ["failed"]

    retry = submit(config, dataset, store)
    assert not retry.reused and retry.record.id == run_id
    record = wait(store, run_id, timeout_s=300)
    assert record.status == "completed", record.error
    assert record.error is None and record.final is not None
    assert load_run(run_id, store, device="cpu").predict(["a spicy curry (9)"]) == ["food"]


def test_the_job_outlives_the_app_that_started_it_and_a_fresh_app_shows_it(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    # The "app": a process that starts the finetune and exits at once.
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from core.runs.jobs import submit; from core.runs.store import RunStore; "
            "from tests.helpers import tiny_config, tiny_dataset; "
            "print(submit(tiny_config(seed=5), tiny_dataset(), RunStore(sys.argv[1])).record.id)",
            str(runs),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    run_id = started.stdout.strip()
    store = RunStore(runs)
    assert store.get(run_id).active  # its worker lives on

    # A freshly started app lists it while it trains, then shows its results.
    at = go(open_app(runs, monkeypatch), "app_pages/dashboard.py")
    [listed] = at.dataframe[0].value.to_dict("records")
    assert listed["run"] == run_id and listed["status"] in ("queued", "running", "completed")
    record = wait(store, run_id, timeout_s=300)
    assert record.status == "completed", record.error
    at = go(open_app(runs, monkeypatch, run=run_id), "app_pages/metrics.py")
    assert "Finetune completed." in shown(at)
    assert {m.label for m in at.metric} >= {"Accuracy", "F1", "Precision", "Recall"}


def test_the_shared_demo_stops_a_finetune_at_its_time_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDTUNE_SHARED_DEMO", "1")
    monkeypatch.setenv("EMBEDTUNE_DEMO_MAX_TRAIN_S", "1")
    store = RunStore(tmp_path / "runs")
    long = tiny_config(epochs=200, early_stopping_patience=0, seed=11)
    run_id = submit(long, tiny_dataset(), store).record.id
    record = wait(store, run_id, timeout_s=180)
    assert record.status == "failed"
    assert record.error["reason"].startswith("stopped after 1 s: this shared demo limits")
    assert not (store.path(run_id) / MODEL_DIR).exists()

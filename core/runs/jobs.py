"""Background training jobs: submit a finetune, start its worker process, follow it, cancel it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import TrainConfig
from core.data.labeled import DataSet, check_trainable
from core.errors import RunError
from core.runs.store import LOG_FILE, RunRecord, RunStore, compute_run_id

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds core/


@dataclass(frozen=True)
class Submission:
    """What `submit` did: a new run was started, or an identical one was reused."""

    record: RunRecord
    reused: bool

    @property
    def message(self) -> str:
        if not self.reused:
            return f"Started run {self.record.id}."
        if self.record.status == "completed":
            return (
                f"Reused completed run {self.record.id}: the same data and settings were "
                "finetuned before."
            )
        return (
            f"Run {self.record.id} with the same data and settings is already {self.record.status}."
        )


def submit(
    config: TrainConfig,
    dataset: DataSet,
    store: RunStore | None = None,
    *,
    force: bool = False,
    name: str = "",
) -> Submission:
    """Queue a finetune in its own worker process, or reuse the identical run; `force` trains
    again over a finished identical run (an active one must be cancelled first). A `name` labels
    the run, new or reused (the id stays the hash of the data and settings)."""
    store = store or RunStore()
    check_trainable(dataset)
    if force:
        _clear_finished(store, compute_run_id(config, dataset))
    record, created = store.create(config, dataset, name=name)
    if created:
        start_worker(store, record.id)
        record = store.get(record.id)
    return Submission(record, reused=not created)


def _clear_finished(store: RunStore, run_id: str) -> None:
    if not store.path(run_id).exists():
        return
    try:
        existing = store.get(run_id)
    except RunError:
        existing = None  # broken: replaced like a failed run
    if existing is not None and existing.active:
        raise RunError(
            f"run {run_id} with the same data and settings is {existing.status}: cancel it "
            "before training it again"
        )
    store.delete(run_id)


def start_worker(store: RunStore, run_id: str) -> int:
    """Spawn the worker as its own process session: it outlives the app or the CLI that
    started it, and reports only through the run directory."""
    run_dir = store.path(run_id)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "core.runs.worker", "--runs-dir", str(store.root.resolve())]
    command += ["--lock-root", str(store.lock_root.resolve()), run_id]
    with open(run_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Reap the child when it ends so it never lingers as a zombie in a long-lived app.
    threading.Thread(target=process.wait, daemon=True).start()
    store.update(run_id, pid=process.pid)
    return process.pid


def wait(
    store: RunStore,
    run_id: str,
    on_update: Callable[[RunRecord], None] | None = None,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> RunRecord:
    """Block until a run is no longer queued or running; call `on_update` on each poll."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        record = store.get(run_id)
        if on_update:
            on_update(record)
        if not record.active:
            return record
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {record.status} after {timeout_s:.0f} s")
        time.sleep(poll_s)

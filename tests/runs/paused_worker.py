"""The real worker process, held still at one moment of its job so that a test can kill it there
(the baseline, head and saving phases last a blink): `start_paused(phase)` takes the place of
core.runs.jobs.start_worker and spawns `python -m tests.runs.paused_worker PHASE <the worker's
arguments>`, which runs core.runs.worker.main as it is, except that it sleeps at the start of
PHASE (baseline, finetune, head or saving: once that phase is in the run record) or, for "saved",
once the model is on disk but before the run is marked completed (the riskiest moment)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from core.runs.store import LOG_FILE, RunStore
from tests.helpers import ROOT

PAUSE_S = 60.0


def marker(phase: str) -> str:
    """The line the paused worker logs when it has stopped at `phase`."""
    return f"pausing at the start of the {phase} phase"


def start_paused(phase: str) -> Callable[[RunStore, str], int]:
    """A `start_worker` whose worker pauses at `phase` (as core.runs.jobs.start_worker spawns
    it: its own session, logging into the run's log, its pid in the record)."""

    def start(store: RunStore, run_id: str) -> int:
        command = [sys.executable, "-m", "tests.runs.paused_worker", phase]
        command += ["--runs-dir", str(store.root.resolve())]
        command += ["--lock-root", str(store.lock_root.resolve()), run_id]
        with open(store.path(run_id) / LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        threading.Thread(target=process.wait, daemon=True).start()  # reaped once killed
        store.update(run_id, pid=process.pid)
        return process.pid

    return start


def _pause(phase: str) -> None:
    logging.getLogger("embedtune.worker").info(marker(phase))
    time.sleep(PAUSE_S)


def _hold_at(phase: str) -> None:
    import core.model.classifier as classifier
    from core.runs.progress import RunReporter

    if phase == "saved":
        save = classifier.save_classifier

        def save_then_pause(*args: Any, **kwargs: Any) -> Any:
            saved = save(*args, **kwargs)
            _pause(phase)
            return saved

        classifier.save_classifier = save_then_pause  # run_job imports it when it runs
        return
    report = RunReporter.phase

    def report_then_pause(self: RunReporter, name: str, total: int | None = None) -> None:
        report(self, name, total)
        if name == phase:
            _pause(phase)

    RunReporter.phase = report_then_pause  # type: ignore[method-assign]


if __name__ == "__main__":
    from core.runs import worker

    _hold_at(sys.argv[1])
    sys.exit(worker.main(sys.argv[2:]))

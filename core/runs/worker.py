"""The training worker process: waits its turn for the device, trains, saves, records the end."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
import traceback
from typing import Any

from core.env import set_offline_env

set_offline_env()

from core.errors import EmbedtuneError  # noqa: E402
from core.runs.progress import RunReporter  # noqa: E402
from core.runs.queue import queued_ids  # noqa: E402
from core.runs.sharing import DemoSettings  # noqa: E402
from core.runs.store import (  # noqa: E402
    WORKER_LOCK,
    Progress,
    RunStore,
    now_iso,
)

log = logging.getLogger("embedtune.worker")
POLL_S = 0.5
LOCK_WAIT_S = 15.0


def wait_for_turn(store: RunStore, run_id: str) -> Any | None:
    """Block until this run is first in the queue and holds the device; None if cancelled."""
    from filelock import FileLock, Timeout

    device_lock = FileLock(str(store.lock_root / ".device.lock"))
    while True:
        if store.cancel_requested(run_id):
            return None
        order = queued_ids(store)
        if not order or order[0] == run_id:
            try:
                device_lock.acquire(timeout=0)
                return device_lock
            except Timeout:
                pass
        time.sleep(POLL_S)


def _seconds_between(start: str, end: str | None) -> float:
    from datetime import datetime

    if not start or not end:
        return 0.0
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


class _NoLock:
    def release(self) -> None:
        pass


def run_job(store: RunStore, run_id: str, queue: bool = True) -> str:
    """Run one queued job to its end; returns the final status. `queue=False` skips waiting
    for the device lock: a torchrun / accelerate launch has been given its devices."""
    from core.model.catalogue import choose_device
    from core.model.classifier import save_classifier
    from core.train.recipe import Cancelled, train

    record = store.get(run_id)
    if record.status != "queued":
        return record.status
    device_lock = wait_for_turn(store, run_id) if queue else _NoLock()
    if device_lock is None:
        store.update(run_id, status="cancelled", finished_at=now_iso())
        return "cancelled"
    workdir = store.path(run_id) / ".checkpoints"
    try:
        device = choose_device(record.config.device, record.config.precision)
        record = store.update(
            run_id, status="running", started_at=now_iso(), device=device.to_dict()
        )
        log.info("run %s on %s", run_id, device.describe())
        reporter = RunReporter(store, run_id, DemoSettings.from_env().train_time_limit_s, record)
        result = train(record.config, store.load_dataset(run_id), workdir, reporter)
        assert result is not None  # only the other ranks of a distributed launch get None
        reporter.phase("saving")
        save_classifier(
            result.model,
            result.head,
            result.labels,
            result.cleaning,
            store.path(run_id),
            extra={
                "run_id": run_id,
                "base_model": record.config.base_model,
                "positive_label": result.positive_label,
            },
        )
        total = reporter.finetune_steps
        try:
            timing = reporter.timing(_seconds_between(record.created_at, record.started_at))
        except Exception:  # noqa: BLE001 - a failed measurement must never fail the run
            log.exception("run %s: its timing could not be measured", run_id)
            timing = None
        # The status goes last: a run is served as completed only once everything is on disk.
        store.update(
            run_id,
            status="completed",
            finished_at=now_iso(),
            baseline=result.baseline,
            final=result.final,
            finetune_kept=result.finetune_kept,
            note=result.note,
            timing=timing,
            progress=Progress(phase="done", step=total, total=total, updated_at=now_iso()),
        )
        log.info("run %s completed", run_id)
        if device.kind == "cpu":
            # On a CPU the map needs the same cores as the next queued run: it slowed that run's
            # first epoch 4-7x, even at the lowest priority (docs/BENCHMARKS.md, Estimates), so
            # it is computed before the device is handed on. On an accelerator it runs after.
            _build_map(store, run_id)
        return "completed"
    except Cancelled:
        if not reporter.timed_out:
            store.update(run_id, status="cancelled", finished_at=now_iso())
            log.info("run %s cancelled", run_id)
            return "cancelled"
        reason = (
            f"stopped after {reporter.time_limit_s:g} s: this shared demo limits the training "
            "time of a finetune (EMBEDTUNE_DEMO_MAX_TRAIN_S); use fewer rows or epochs"
        )
    except EmbedtuneError as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - the edge: any failure is recorded, not lost
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        device_lock.release()
    log.error("run %s failed: %s", run_id, reason)
    store.update(
        run_id,
        status="failed",
        finished_at=now_iso(),
        error={"reason": reason, "log_tail": store.log_tail(run_id)},
    )
    return "failed"


def _build_map(store: RunStore, run_id: str) -> None:
    """The Playground's map of a completed run, computed once (nothing when it is kept)."""
    from core.runs.maps import build_quietly

    log.info("computing the map of the validation texts")
    build_quietly(store, run_id)
    log.info("map computed")


def main(argv: list[str] | None = None) -> int:
    from filelock import FileLock, Timeout

    from core.runs.maps import map_path

    parser = argparse.ArgumentParser(prog="python -m core.runs.worker")
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--lock-root", help="folder of the device lock (default: --runs-dir)")
    parser.add_argument("run_id")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    store = RunStore(args.runs_dir, lock_root=args.lock_root)
    # Held for the worker's whole life: readers take a free lock as proof the worker died.
    # A reader's probe holds it for an instant, so wait a little rather than give up at once;
    # only another live worker holds it for longer.
    lock = FileLock(str(store.path(args.run_id) / WORKER_LOCK))
    try:
        lock.acquire(timeout=LOCK_WAIT_S)
    except Timeout:
        log.error("another worker already runs %s", args.run_id)
        return 1
    try:
        store.update(args.run_id, pid=os.getpid())
        status = run_job(store, args.run_id)
        if status == "completed" and not map_path(store, args.run_id).exists():
            _build_map(store, args.run_id)  # on an accelerator (a CPU built it before release)
    finally:
        lock.release()
    return 0 if status in ("completed", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())

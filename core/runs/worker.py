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
from core.runs.queue import queued_ids  # noqa: E402
from core.runs.sharing import DemoSettings  # noqa: E402
from core.runs.store import (  # noqa: E402
    WORKER_LOCK,
    Progress,
    RunRecord,
    RunStore,
    now_iso,
)
from core.runs.timing import StepClock, Timing, expected_stop  # noqa: E402

log = logging.getLogger("embedtune.worker")
POLL_S = 0.5
LOCK_WAIT_S = 15.0
# Progress is written at most this often (each write is a small atomic file replace).
PROGRESS_EVERY_S = 1.0
TEST_PAUSE_ENV = "EMBEDTUNE_TEST_PAUSE_PHASE"
TEST_PAUSE_S = 60.0


class RunReporter:
    """Writes a job's phase, steps, ETA and evaluations into its run record, and times them: the
    live ETA comes from recent step times (core.runs.timing.StepClock), and the throughput the run
    measured is kept in its record when it completes (the next runs' estimates)."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        time_limit_s: float | None = None,
        record: RunRecord | None = None,
    ) -> None:
        from core.runs.estimate import prior, rates
        from core.train.label_names import finetune_rows
        from core.train.schedule import schedule

        self.store, self.run_id = store, run_id
        record = record or store.get(run_id)
        self.config = record.config
        self.n_train = finetune_rows(
            int(record.data.get("train_rows") or 0),
            record.data.get("classes") or [],
            self.config.label_names,
        )
        self.n_valid = int(record.data.get("valid_rows") or 0)
        device_kind = (record.device or {}).get("kind", "cpu")
        measured = rates(store, self.config.base_model, device_kind)
        self.prior = prior(self.config, self.n_train, self.n_valid, measured)
        self.plan = schedule(self.config, self.n_train)
        self.clock = StepClock(self.prior)
        self.phase_name = "queued"
        self.phase_started = time.monotonic()
        self.phase_s: dict[str, float] = {}
        self.last_write = 0.0
        self.finetune_steps = 0
        self.step_now = 0
        self.evaluations = 0
        # Each finetune evaluation's score, in order: the metric early stopping watches (micro-F1
        # for a multi-label run, macro-F1 otherwise).
        self.scores: list[float] = []
        self.score_key = "f1" if record.data.get("multi_label") else "macro_f1"
        self.last_step_at: float | None = None
        self.started = time.monotonic()
        self.finetune_started: float | None = None
        self.after_finetune: float | None = None  # when the head phase began
        self.retrain = (0, 0)  # (step, steps) of the finetune on all rows (retrain_on_all)
        self.time_limit_s = time_limit_s
        self.timed_out = False

    def phase(self, name: str, total: int | None = None) -> None:
        log.info("phase %s", name)
        now = time.monotonic()
        if self.phase_name != "queued":
            self.phase_s[self.phase_name] = now - self.phase_started
        self.phase_name, self.phase_started = name, now
        if name == "finetune":
            self.finetune_started = now
        elif name == "head":
            self.after_finetune = now
        self.store.update(
            self.run_id,
            progress=Progress(
                phase=name,
                total=total or 0,
                eta_s=self.eta(now),
                eta_range_s=self.eta_range(now),
                updated_at=now_iso(),
            ),
        )
        _test_pause(name)

    def step(self, step: int, total: int) -> None:
        now = time.monotonic()
        if self.phase_name == "finetune":
            self.finetune_steps = total
            self.step_now = step
            self.clock.step(step, now)
            self.last_step_at = now
        elif self.phase_name == "retrain":
            self.retrain = (step, total)
            self.clock.step(step, now)
        if step not in (0, total) and now - self.last_write < PROGRESS_EVERY_S:
            return
        self.last_write = now
        self.store.update(
            self.run_id,
            progress=Progress(
                phase=self.phase_name,
                step=step,
                total=total,
                eta_s=self.eta(now),
                eta_range_s=self.eta_range(now),
                updated_at=now_iso(),
            ),
        )

    def _expected_stop(self, total: int) -> int:
        """The step early stopping is expected to end the finetune at (core.runs.timing)."""
        return expected_stop(
            self.scores,
            self.plan.eval_steps,
            total,
            self.config.early_stopping_patience,
            self.prior.steps_fraction,
            self.step_now,
        )

    def eta(self, now: float, stop: int | None = None) -> float:
        """Seconds until the run ends, from where it is now: with the finetune ending at `stop`
        (default: where early stopping is expected to end it)."""
        total = self.finetune_steps or self.plan.max_steps
        stop = self._expected_stop(total) if stop is None else max(self.step_now, min(stop, total))
        evaluations_left = max(0, stop // self.plan.eval_steps - self.evaluations)
        if self.phase_name in ("queued", "baseline"):
            spent = now - self.phase_started
            baseline_left = max(0.0, self.prior.eval_s - spent)
            return baseline_left + self.clock.time_left(0, total, evaluations_left, now, stop)
        if self.phase_name == "finetune":
            return self.clock.time_left(self.step_now, total, evaluations_left, now, stop)
        if self.phase_name == "retrain":  # the same steps again on all rows, no evaluations
            step, steps = self.retrain
            return self.clock.time_left(step, steps, 0, now, steps)
        # The head and saving: what follows the finetune, less the time since it ended.
        since = now - (self.after_finetune or self.phase_started)
        return max(0.0, self.clock.tail_s - since)

    def eta_range(self, now: float) -> tuple[float, float] | None:
        """(soonest, latest) seconds left while early stopping can still end the finetune: if it
        ends it at the first chance (the best evaluation so far plus the patience), and if the
        finetune runs its whole schedule; None when the end is known."""
        patience = self.config.early_stopping_patience
        total = self.finetune_steps or self.plan.max_steps
        if patience <= 0 or self.phase_name not in ("queued", "baseline", "finetune"):
            return None
        soonest = expected_stop(self.scores, self.plan.eval_steps, total, patience, 0.0)
        if soonest >= total:
            return None
        return self.eta(now, soonest), self.eta(now, total)

    def evaluation(self, point: dict[str, Any]) -> None:
        log.info(
            "evaluation at step %s: macro-F1 %.4f", point["step"], point["metrics"]["macro_f1"]
        )
        if self.phase_name == "baseline":
            self.clock.baseline(time.monotonic() - self.phase_started)
        if self.phase_name == "finetune" and point["step"] > 0:
            self.clock.evaluated()
            self.evaluations += 1
            self.scores.append(point["metrics"][self.score_key])
        self.store.modify(self.run_id, lambda r: r.replace(history=(*r.history, point)))

    def should_stop(self) -> bool:
        if self.time_limit_s is not None and time.monotonic() - self.started > self.time_limit_s:
            self.timed_out = True
            return True
        return self.store.cancel_requested(self.run_id)

    def timing(self, queued_s: float) -> Timing:
        """What this run measured, at its end: the basis of the next runs' estimates."""
        now = time.monotonic()
        self.phase_s[self.phase_name] = now - self.phase_started
        clock = self.clock
        step_s = clock.plain_s / clock.plain_n if clock.plain_n else clock.step_s
        eval_s = clock.eval_s
        texts = self.n_train + self.n_valid
        finetune_start = self.finetune_started or self.started
        last_step = self.last_step_at or now
        total = self.finetune_steps or self.plan.max_steps
        return Timing(
            train_examples_per_s=self.config.batch_size / step_s if step_s > 0 else 0.0,
            encode_texts_per_s=texts / eval_s if eval_s > 0 else 0.0,
            start_s=max(0.0, finetune_start - self.started - eval_s),
            end_s=max(0.0, now - last_step - 2 * eval_s),
            steps_fraction=self.step_now / total if total else 1.0,
            steps=self.step_now,
            max_steps=total,
            evaluations=self.evaluations,
            texts=texts,
            run_s=now - self.started,
            queued_s=queued_s,
            phase_s={k: round(v, 3) for k, v in self.phase_s.items()},
        )


def _test_pause(phase: str) -> None:
    """Test hook: with EMBEDTUNE_TEST_PAUSE_PHASE=<phase>, sleep at the start of that phase so
    a test can kill the worker there (the baseline, head and saving phases last a blink);
    "saved" pauses after the model is written but before the run is marked completed.
    Unset (always, outside tests) it does nothing."""
    if os.environ.get(TEST_PAUSE_ENV) == phase:
        log.info("pausing at the start of the %s phase (%s)", phase, TEST_PAUSE_ENV)
        time.sleep(TEST_PAUSE_S)


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
        device = choose_device(record.config.device)
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
        _test_pause("saved")  # the model is on disk, the status not yet: the riskiest moment
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

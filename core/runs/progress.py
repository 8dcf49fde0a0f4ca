"""A job's progress reporter: writes its phase, steps, ETA and evaluations into its run record as
it trains, and what the run measured (its timing) when it ends."""

from __future__ import annotations

import logging
import time
from typing import Any

from core.runs.store import Progress, RunRecord, RunStore, now_iso
from core.runs.timing import StepClock, Timing, expected_stop

log = logging.getLogger("embedtune.worker")  # its lines go to the worker's log
# Progress is written at most this often (each write is a small atomic file replace).
PROGRESS_EVERY_S = 1.0


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
        data = record.data
        self.n_train = finetune_rows(data.train_rows, data.classes, self.config.label_names)
        self.n_valid = data.valid_rows
        device_kind = (record.device or {}).get("kind", "cpu")
        precision = (record.device or {}).get("precision", "fp32")
        measured = rates(store, self.config.base_model, device_kind, precision=precision)
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
        # Each finetune evaluation's score, in order: the metric early stopping watches (the
        # task's checkpoint metric).
        self.scores: list[float] = []
        self.score_key = record.task.checkpoint_metric
        self.last_step_at: float | None = None
        self.started = time.monotonic()
        self.finetune_started: float | None = None
        self.after_finetune: float | None = None  # when the head phase began
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

    def step(self, step: int, total: int) -> None:
        now = time.monotonic()
        if self.phase_name == "finetune":
            self.finetune_steps = total
            self.step_now = step
            self.clock.step(step, now)
            self.last_step_at = now
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

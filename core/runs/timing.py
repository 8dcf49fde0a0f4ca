"""What a run's time went on: the step clock behind the live ETA, and the throughput a finished
run measured (kept in run.json so that later estimates come from this machine)."""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from core.records import Record

# Steps the live ETA averages over: enough to smooth a noisy step, few enough to follow a machine
# that gets busier or quieter (a 600-row run has 30 steps an epoch at batch 16).
STEP_WINDOW = 20


@dataclass(frozen=True)
class Timing(Record):
    """Throughput one finished run measured on its device: the basis of later estimates.

    `train_examples_per_s` is the finetune's pace over steps without an evaluation;
    `encode_texts_per_s` is the pace of one evaluation (encode every training and validation text,
    fit the head, keep the checkpoint) per text; `start_s` is the time from the start to the
    finetune not explained by the baseline's encode (imports, loading the model), `end_s` the time
    after the last step not explained by the last evaluation and the head's encode (loading the
    best checkpoint, saving); `steps_fraction` is how much of its schedule the finetune ran
    before early stopping ended it; `queued_s` the time from submission to the start."""

    train_examples_per_s: float
    encode_texts_per_s: float
    start_s: float
    end_s: float
    steps_fraction: float
    steps: int
    max_steps: int
    evaluations: int
    texts: int
    run_s: float
    queued_s: float = 0.0
    phase_s: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Prior:
    """What a run is expected to take per step, per evaluation and after its last step, before
    (or until) it has measured its own: from past runs or the catalogue (see core.runs.estimate)."""

    step_s: float
    eval_s: float
    end_s: float  # after the last evaluation and the head's encode: best checkpoint, saving
    steps_fraction: float = 1.0


class StepClock:
    """Times the steps of a finetune as they end and the evaluations between them; gives the
    time left from a window of recent steps, not from the phase's start (evaluations and the
    first slow steps would skew that)."""

    def __init__(self, prior: Prior, window: int = STEP_WINDOW) -> None:
        self.prior = prior
        self.steps: deque[float] = deque(maxlen=window)  # seconds of recent plain steps
        self.evals: list[float] = []  # seconds each evaluation added to its step
        self.baseline_s: float | None = None  # the baseline's encode and fit, when measured
        self.last: tuple[int, float] | None = None  # (step, time) of the last step seen
        self.evaluated_since_last = False
        self.plain_s = 0.0  # all plain steps' seconds, for the run's Timing
        self.plain_n = 0

    def step(self, step: int, now: float) -> None:
        """A step ended at `now` (monotonic seconds)."""
        if self.last is not None and step > self.last[0]:
            seconds = (now - self.last[1]) / (step - self.last[0])
            if self.evaluated_since_last:
                self.evals.append(max(0.0, now - self.last[1] - self.step_s))
            else:
                self.steps.append(seconds)
                self.plain_s += now - self.last[1]
                self.plain_n += step - self.last[0]
        self.last = (step, now)
        self.evaluated_since_last = False

    def evaluated(self) -> None:
        """An evaluation ran after the last step (its time shows in the next step's interval)."""
        self.evaluated_since_last = True

    @property
    def step_s(self) -> float:
        """Seconds per step: the mean of the recent window, else the prior."""
        return statistics.fmean(self.steps) if self.steps else self.prior.step_s

    def baseline(self, seconds: float) -> None:
        """The baseline (encode every text, fit the head) took `seconds`: until an evaluation
        is timed, each is expected to take as long, on the machine as busy as it is now."""
        self.baseline_s = seconds

    @property
    def eval_s(self) -> float:
        """Seconds an evaluation takes: the mean of those measured, else the baseline's, else
        the prior."""
        if self.evals:
            return statistics.fmean(self.evals)
        return self.prior.eval_s if self.baseline_s is None else self.baseline_s

    @property
    def tail_s(self) -> float:
        """Seconds after the finetune: the head's encode and fit (as long as an evaluation),
        loading the best checkpoint, saving."""
        return self.eval_s + self.prior.end_s

    def time_left(
        self, step: int, total: int, evaluations_left: int, now: float, stop_at: int | None = None
    ) -> float:
        """Seconds until the run ends: the steps left at the recent pace (up to `stop_at` when
        early stopping is expected there), the evaluations left, and what follows the last step
        (the head, saving). The time since the last step counts as spent."""
        end = total if stop_at is None else max(step, min(stop_at, total))
        left = (end - step) * self.step_s + evaluations_left * self.eval_s + self.tail_s
        if self.last is not None:
            left -= min(now - self.last[1], self.step_s if end > step else 0.0)
        return max(0.0, left)


def expected_stop(
    scores: list[float],
    every: int,
    total: int,
    patience: int,
    steps_fraction: float = 1.0,
    step: int = 0,
    best_possible: float = 1.0,
) -> int:
    """The step early stopping is expected to end a finetune at, from its validation scores so far
    (one per evaluation, every `every` steps, patience `patience`).

    A finetune whose last evaluation did not gain has begun to level off: it is expected to stop
    once the patience runs out after its best evaluation. So is one whose best score cannot be
    beaten (a gain must be strictly higher). One still gaining is expected to run as much of its
    schedule as past runs ran (`steps_fraction`), and no less than its best evaluation plus the
    patience. Never before `step`, the step it has reached; never past `total`."""
    if patience <= 0 or not total or every <= 0:
        return total
    best = max(range(len(scores)), key=lambda i: (scores[i], -i)) + 1 if scores else 0
    earliest = (max(best, 1) + patience) * every
    levelled = bool(scores) and (best < len(scores) or scores[best - 1] >= best_possible)
    if levelled:
        expected = earliest
    else:
        expected = max(earliest, math.ceil(steps_fraction * total / every) * every)
    return max(step, min(total, expected))

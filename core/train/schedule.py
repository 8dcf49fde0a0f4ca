"""A finetune's schedule: steps per epoch, the evaluation interval and the step count, as the
trainer will run them (without importing the trainer, so estimates stay cheap)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.config import TrainConfig


@dataclass(frozen=True)
class Schedule:
    """Steps and evaluations of one finetune at most (early stopping may end it sooner)."""

    steps_per_epoch: int
    eval_steps: int
    max_steps: int

    @property
    def evaluations(self) -> int:
        """Evaluations during the finetune: one every `eval_steps` steps."""
        return self.max_steps // self.eval_steps


def schedule(config: TrainConfig, n_train: int) -> Schedule:
    """The schedule of a finetune of `n_train` training rows with these settings."""
    steps_per_epoch = max(1, math.ceil(n_train / config.batch_size))
    eval_steps = max(1, math.ceil(steps_per_epoch / config.evals_per_epoch))
    return Schedule(steps_per_epoch, eval_steps, steps_per_epoch * config.epochs)

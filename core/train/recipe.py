"""The recipe, one for single- and multi-label data: baseline -> finetune the body -> fit the
head -> evaluate -> keep the finetune or the base model. What differs between the two kinds of
data (targets, head, loss, what "better" means) is the task's (core.train.task)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from sentence_transformers.util.distributed import distributed_evaluation

from core.config import TrainConfig
from core.data.cleaning import CleaningConfig
from core.data.labeled import DataSet
from core.model.catalogue import (
    DeviceInfo,
    autocast,
    choose_device,
    load_base_model,
    training_kernels,
)
from core.model.heads import embedding_dim, encode
from core.train.distributed import broadcast_head, stop_everywhere, world
from core.train.metrics import Evaluation
from core.train.reporting import Cancelled, Reporter, SilentReporter
from core.train.schedule import schedule
from core.train.task import (
    Head,
    Rows,
    Task,
    base_head,
    better,
    dataset_task,
    gain_intervals,
    served_head,
    training_rows,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["Cancelled", "Reporter", "SilentReporter", "TrainResult", "train"]


@dataclass
class TrainResult:
    """A trained classifier in memory with everything measured on the way."""

    model: SentenceTransformer
    head: Head
    labels: tuple[str, ...]
    positive_label: str | None
    cleaning: CleaningConfig
    device: DeviceInfo
    baseline: Evaluation
    final: Evaluation
    history: list[dict[str, Any]] = field(default_factory=list)
    finetune_kept: bool = True
    note: str = ""
    train_seconds: float = 0.0
    # Validation log-loss of the finetune's head and of the base model's (None: not measured).
    valid_log_loss: tuple[float, float] | None = None


class HeadEvaluator(SentenceEvaluator):
    """sentence-transformers evaluator: refit the task's head on the current embeddings and
    score it on the validation split — the classifier the user would get now."""

    def __init__(self, task: Task, rows: Rows, reporter: Reporter) -> None:
        super().__init__()
        self.task, self.rows, self.reporter = task, rows, reporter
        self.name = "valid"
        self.greater_is_better = True
        self.primary_metric = f"valid_{task.checkpoint_metric}"
        self.history: list[dict[str, Any]] = []

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        rows = self.rows
        x_valid = encode(model, rows.valid_texts)
        head = self.task.fit_head(
            encode(model, rows.train_texts), rows.y_train, x_valid, rows.y_valid
        )
        evaluation = self.task.evaluate(head, x_valid, rows.y_valid)
        loss = self.task.log_loss(head, x_valid, rows.y_valid)
        point: dict[str, Any] = {
            "step": int(steps),
            "epoch": round(float(epoch), 4),
            "metrics": evaluation.metrics.to_dict(),
        }
        scores = {f"valid_{name}": value for name, value in evaluation.metrics.scores().items()}
        if loss is not None:
            point["log_loss"] = loss
            scores["valid_log_loss"] = loss
        self.history.append(point)
        self.reporter.evaluation(point)
        return scores


def _progress_callback(reporter: Reporter, loss: Any = None, stop_at: int | None = None) -> Any:
    """A transformers TrainerCallback that reports steps and honours a cancel request; with
    `stop_at` it ends training after that many steps (and reports them as the total). In a
    distributed launch it also averages the gradients of the loss's own head across processes:
    the trainer wraps only the model in DistributedDataParallel, not the loss module."""
    from transformers import TrainerCallback

    head_params = (
        [p for n, p in loss.named_parameters() if not n.startswith("model.")]
        if (loss is not None and world()[1] > 1)
        else []
    )

    class ProgressCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            reporter.step(0, stop_at or state.max_steps)

        def on_pre_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001
            if head_params:
                import torch.distributed as dist

                size = dist.get_world_size()
                for p in head_params:
                    if p.grad is not None:
                        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                        p.grad /= size

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            reporter.step(state.global_step, stop_at or state.max_steps)
            if stop_at is not None and state.global_step >= stop_at:
                control.should_training_stop = True
            if stop_everywhere(reporter):
                control.should_training_stop = True
                control.should_save = False
                control.should_evaluate = False
            return control

    return ProgressCallback()


def check_batch_split(config: TrainConfig, world_size: int) -> None:
    """A distributed finetune splits each step's batch evenly between its processes."""
    if config.batch_size % world_size:
        from core.errors import ConfigError

        fits = config.batch_size + world_size - config.batch_size % world_size
        raise ConfigError(
            f"batch size {config.batch_size} does not split evenly between {world_size} "
            f"processes: pass --batch-size {fits}"
        )


# The validation scores that can choose the best checkpoint: every score of the task's is
# better higher; the log-loss (a benchmark's alternative) lower.
LOWER_IS_BETTER = {"log_loss"}


def training_arguments(
    config: TrainConfig,
    device: DeviceInfo,
    output_dir: Path,
    n_train: int,
    world_size: int = 1,
    checkpoint_metric: str = "macro_f1",
) -> dict[str, Any]:
    """The trainer's settings for a config on a device: evaluation and checkpoint interval,
    best-checkpoint selection on validation macro-F1, mixed precision where the device has it
    (bf16 / fp16 autocast, CPU included; the weights stay fp32). Under a
    distributed launch `batch_size` stays the batch of one optimizer step, split evenly between
    the processes, so the same config trains the same recipe on 1 or N devices."""
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    check_batch_split(config, world_size)
    plan = schedule(config, n_train)
    steps_per_epoch, eval_steps = plan.steps_per_epoch, plan.eval_steps
    return dict(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size // world_size,
        learning_rate=config.learning_rate,
        # The loss's own head trains at its own rate.
        learning_rate_mapping={r"^classifier\.": config.head_learning_rate},
        warmup_steps=math.ceil(config.warmup_ratio * steps_per_epoch * config.epochs),
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=True,
        metric_for_best_model=f"eval_valid_{checkpoint_metric}",
        greater_is_better=checkpoint_metric not in LOWER_IS_BETTER,
        logging_steps=eval_steps,
        report_to="none",
        disable_tqdm=True,
        use_cpu=device.kind == "cpu",
        bf16=device.precision == "bf16",
        fp16=device.precision == "fp16",
        dataloader_num_workers=0,
        **({"ddp_backend": "nccl" if device.kind == "cuda" else "gloo"} if world_size > 1 else {}),
        batch_sampler=BatchSamplers.BATCH_SAMPLER,
    )


def train(
    config: TrainConfig,
    dataset: DataSet,
    workdir: Path,
    reporter: Reporter | None = None,
    keep: Callable[[Evaluation, Evaluation], bool] | None = None,
    checkpoint_metric: str | None = None,
) -> TrainResult | None:
    """Run the whole recipe on a prepared data set. Checkpoints go under `workdir`. `keep`
    judges the finetune against the base model on validation and `checkpoint_metric` chooses
    its best checkpoint (default: the task's score, core.train.task.better); benchmarks
    measure other rules through them.

    Launched by torchrun / accelerate (a torch.distributed process group is set up, see
    core.runs.launched) every process runs this: the finetune is data-parallel, rank 0 alone
    measures, fits the head and gets the result; the other ranks get None."""
    import transformers
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    reporter = reporter or SilentReporter()
    started = time.monotonic()
    task = dataset_task(dataset, config)
    rank, world_size = world()
    task.check(world_size)
    transformers.set_seed(config.seed)
    transformers.logging.set_verbosity_warning()
    device = choose_device(config.device, config.precision)
    labels = task.labels
    # Label names that are words join the training rows (the finetune's and the head's).
    rows = training_rows(task, dataset, config)

    reporter.phase("baseline")
    model = load_base_model(config, device=device.torch_device)
    # Under torchrun / accelerate, rank 0 measures (sentence-transformers shares its encodes
    # out between the processes); the others need only the baseline head, for the loss.
    with distributed_evaluation(model) as leader:
        if leader:
            # At the precision the finetune's evaluations encode in, so that the baseline and
            # the finetune are compared alike.
            with autocast(device):
                base_train, base_valid = (
                    encode(model, rows.train_texts),
                    encode(model, rows.valid_texts),
                )
            base = base_head(task, rows, base_train, base_valid, config)
            baseline_head, baseline = base.measured, base.evaluation
            base_point = {"step": 0, "epoch": 0.0, "metrics": baseline.metrics.to_dict()}
            reporter.evaluation(base_point)
    if world_size > 1:  # single-label only (a multi-label task refuses a launch: task.check)
        size = 1 if len(labels) == 2 else len(labels)
        baseline_head = broadcast_head(
            baseline_head if rank == 0 else None, size, embedding_dim(model)
        )
    if stop_everywhere(reporter):
        raise Cancelled

    reporter.phase("finetune")
    evaluator = HeadEvaluator(task, rows, reporter)
    loss = task.loss(model, baseline_head, rows.y_train)
    arguments = training_arguments(
        config,
        device,
        workdir / "checkpoints",
        len(rows.train_texts),
        world_size,
        checkpoint_metric or task.checkpoint_metric,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=SentenceTransformerTrainingArguments(**arguments),
        train_dataset=Dataset.from_dict({"text": rows.train_texts, "label": _labels(rows)}),
        loss=loss,
        evaluator=evaluator,
        callbacks=[_progress_callback(reporter, loss)],
    )
    if config.early_stopping_patience > 0:
        from transformers import EarlyStoppingCallback

        trainer.add_callback(EarlyStoppingCallback(config.early_stopping_patience))
    with training_kernels(device):
        trainer.train()
    if stop_everywhere(reporter):
        raise Cancelled
    # Under mixed precision accelerate leaves an autocast wrapper on the model's forward: the
    # head phase encodes under autocast on purpose (as the evaluations did), but the model handed
    # over must run in fp32 like the saved weights (which stay fp32) when loaded again.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)

    with distributed_evaluation(model) as leader:
        if not leader:
            return None  # rank 0 fits the head, evaluates and saves; this rank lent its encodes
        reporter.phase("head")
        with autocast(device):
            x_train, x_valid = encode(model, rows.train_texts), encode(model, rows.valid_texts)
        head = task.fit_head(x_train, rows.y_train, x_valid, rows.y_valid)
        final = task.evaluate(head, x_valid, rows.y_valid)
        losses = (
            task.log_loss(head, x_valid, rows.y_valid),
            task.log_loss(baseline_head, base_valid, rows.y_valid),
        )
        finetune_kept, note = True, ""
        if not (keep or (lambda f, b: better(task, f, b)))(final, baseline):
            # The frozen base model is a checkpoint too: never hand over something clearly worse.
            model = load_base_model(config, device=device.torch_device)
            note = _kept_base_note(task, final, baseline)
            finetune_kept, final = False, baseline
            head = base.served
        else:
            head = served_head(task, head, rows, x_train, x_valid, config)
        return TrainResult(
            model=model,
            head=head,
            labels=labels,
            positive_label=task.positive,
            cleaning=config.cleaning,
            device=device,
            baseline=baseline,
            final=final,
            history=[base_point, *evaluator.history],
            finetune_kept=finetune_kept,
            note=note,
            train_seconds=time.monotonic() - started,
            valid_log_loss=None if None in losses else losses,  # type: ignore[arg-type]
        )


def _labels(rows: Rows) -> list[Any]:
    """The trainer's label column: label ids, or 0/1 rows as floats (binary cross-entropy)."""
    y = rows.y_train
    return y.astype(np.float32).tolist() if y.ndim == 2 else y.tolist()


def _kept_base_note(task: Task, final: Evaluation, baseline: Evaluation) -> str:
    name = task.checkpoint_metric
    after, before = getattr(final.metrics, name), getattr(baseline.metrics, name)
    interval = gain_intervals(final, baseline).get(name)
    span = (
        f"; 95 % interval of the gain {interval[0]:+.3f} to {interval[1]:+.3f}" if interval else ""
    )
    return (
        "Finetuning did not beat the base model on the validation split: it was clearly worse "
        f"({task.metric_words} {after:.3f} vs {before:.3f}{span}), so this run keeps the base "
        f"model with {task.head_words}."
    )

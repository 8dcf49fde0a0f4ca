"""The recipe: baseline -> finetune the body -> fit the logistic-regression head -> evaluate."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from sentence_transformers.util.distributed import distributed_evaluation

from core.config import TrainConfig
from core.data.cleaning import CleaningConfig
from core.data.labeled import DataSet
from core.model.catalogue import DeviceInfo, choose_device, load_model
from core.model.heads import SigmoidHead, embedding_dim, encode, fit_head, head_as_softmax
from core.train.distributed import broadcast_head, stop_everywhere, world
from core.train.label_names import with_label_names
from core.train.metrics import Evaluation, evaluate_predictions, positive_label
from core.train.schedule import schedule

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

log = logging.getLogger("embedtune.training")


class Cancelled(Exception):
    """The user asked the job to stop."""


class Reporter(Protocol):
    """Where a training job reports; the worker writes it to the run directory."""

    def phase(self, name: str, total: int | None = None) -> None: ...

    def step(self, step: int, total: int) -> None: ...

    def evaluation(self, point: dict[str, Any]) -> None: ...

    def should_stop(self) -> bool: ...


class SilentReporter:
    """A reporter that records nothing and never cancels (for scripts and benchmarks)."""

    def phase(self, name: str, total: int | None = None) -> None:
        log.info("phase: %s", name)

    def step(self, step: int, total: int) -> None:
        pass

    def evaluation(self, point: dict[str, Any]) -> None:
        log.info("evaluation: %s", point)

    def should_stop(self) -> bool:
        return False


@dataclass
class TrainResult:
    """A trained classifier in memory with everything measured on the way."""

    model: SentenceTransformer
    head: LogisticRegression | SigmoidHead  # SigmoidHead: multi-label (core.train.multilabel)
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


def evaluate_head(
    head: LogisticRegression,
    embeddings: np.ndarray,
    y_true: np.ndarray,
    labels: Sequence[str],
    positive: str | None,
) -> Evaluation:
    """Metrics of the head's predictions, with labels as the user wrote them."""
    names = np.asarray(labels, dtype=object)
    if not len(embeddings):
        return evaluate_predictions(list(names[y_true]), [], labels, positive)
    probabilities = head.predict_proba(embeddings)
    # classes_ maps the head's columns to label indices (a label missing from training has none).
    predicted = names[head.classes_[probabilities.argmax(axis=1)]]
    return evaluate_predictions(
        list(names[y_true]), list(predicted), labels, positive, probabilities.max(axis=1)
    )


class HeadEvaluator(SentenceEvaluator):
    """sentence-transformers evaluator: refit the logistic-regression head on the current
    embeddings and score it on the validation split — the classifier the user would get now."""

    def __init__(
        self,
        train_texts: Sequence[str],
        y_train: np.ndarray,
        valid_texts: Sequence[str],
        y_valid: np.ndarray,
        labels: Sequence[str],
        positive: str | None,
        config: TrainConfig,
        reporter: Reporter,
    ) -> None:
        super().__init__()
        self.train_texts, self.y_train = list(train_texts), y_train
        self.valid_texts, self.y_valid = list(valid_texts), y_valid
        self.labels, self.positive, self.config = list(labels), positive, config
        self.reporter = reporter
        self.name = "valid"
        self.greater_is_better = True
        self.primary_metric = "valid_macro_f1"
        self.history: list[dict[str, Any]] = []

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        head = fit_head(encode(model, self.train_texts), self.y_train, self.config)
        valid_embeddings = encode(model, self.valid_texts)
        evaluation = evaluate_head(head, valid_embeddings, self.y_valid, self.labels, self.positive)
        loss = head_log_loss(head, valid_embeddings, self.y_valid, len(self.labels))
        point = {
            "step": int(steps),
            "epoch": round(float(epoch), 4),
            "metrics": evaluation.metrics.to_dict(),
            "log_loss": loss,
        }
        self.history.append(point)
        self.reporter.evaluation(point)
        m = evaluation.metrics
        return {f"valid_{name}": value for name, value in m.scores().items()} | {
            "valid_log_loss": loss
        }


def head_log_loss(
    head: LogisticRegression, embeddings: np.ndarray, y_true: np.ndarray, num_labels: int
) -> float:
    """The head's mean log-loss on labelled rows: unlike F1 it reads every row's probability,
    so one or two rows per label still move it smoothly."""
    from sklearn.metrics import log_loss

    if not len(embeddings):
        return 0.0
    probabilities = np.full((len(embeddings), num_labels), 1e-12)
    probabilities[:, head.classes_] = head.predict_proba(embeddings)
    return float(log_loss(y_true, probabilities, labels=list(range(num_labels))))


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


CHECKPOINT_METRICS = {
    "macro_f1": ("eval_valid_macro_f1", True),
    "log_loss": ("eval_valid_log_loss", False),
}
"""What chooses the best checkpoint on validation, and whether greater is better."""


def training_arguments(
    config: TrainConfig,
    device: DeviceInfo,
    output_dir: Path,
    n_train: int,
    world_size: int = 1,
    checkpoint_metric: str = "macro_f1",
) -> dict[str, Any]:
    """The trainer's settings for a config on a device: evaluation and checkpoint interval,
    best-checkpoint selection on validation macro-F1, mixed precision on CUDA. Under a
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
        # Only the softmax loss has a head of its own to train at its own rate.
        learning_rate_mapping=(
            {r"^classifier\.": config.head_learning_rate} if config.loss == "softmax" else {}
        ),
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
        metric_for_best_model=CHECKPOINT_METRICS[checkpoint_metric][0],
        greater_is_better=CHECKPOINT_METRICS[checkpoint_metric][1],
        logging_steps=eval_steps,
        report_to="none",
        disable_tqdm=True,
        use_cpu=device.kind == "cpu",
        bf16=device.precision == "bf16",
        fp16=device.precision == "fp16",
        dataloader_num_workers=0,
        **({"ddp_backend": "nccl" if device.kind == "cuda" else "gloo"} if world_size > 1 else {}),
        batch_sampler=(
            BatchSamplers.GROUP_BY_LABEL
            if config.loss == "batch_all_triplet"
            else BatchSamplers.BATCH_SAMPLER
        ),
    )


def _make_loss(
    config: TrainConfig,
    model: SentenceTransformer,
    baseline_head: LogisticRegression,
    y_train: np.ndarray,
    num_labels: int,
) -> Any:
    import torch

    if config.loss == "batch_all_triplet":
        from sentence_transformers.sentence_transformer.losses import BatchAllTripletLoss

        return BatchAllTripletLoss(model)
    from core.train.losses import SoftmaxClassificationLoss

    weight, bias = head_as_softmax(baseline_head, num_labels)
    class_weights = None
    if config.balanced_weights:
        counts = np.bincount(y_train, minlength=num_labels).astype(np.float64)
        class_weights = torch.tensor(len(y_train) / (num_labels * np.maximum(counts, 1)))
        class_weights = class_weights.float()
    return SoftmaxClassificationLoss(
        model,
        num_labels,
        weight=torch.tensor(weight),
        bias=torch.tensor(bias),
        class_weights=class_weights,
    )


def finetune_beats_base(final: Evaluation, baseline: Evaluation) -> bool:
    """Whether a finetune's validation scores earn it its place over the frozen base model
    (its macro-F1 at least the base model's): the never-worse guard."""
    return final.metrics.macro_f1 >= baseline.metrics.macro_f1


def train(
    config: TrainConfig,
    dataset: DataSet,
    workdir: Path,
    reporter: Reporter | None = None,
    keep: Callable[[Evaluation, Evaluation], bool] = finetune_beats_base,
    checkpoint_metric: str = "macro_f1",
) -> TrainResult | None:
    """Run the whole recipe on a prepared data set. Checkpoints go under `workdir`; `keep`
    judges the finetune against the base model on validation (a benchmark measures rules).

    Launched by torchrun / accelerate (a torch.distributed process group is set up, see
    core.runs.launched) every process runs this: the finetune is data-parallel, rank 0 alone
    measures, fits the head and gets the result; the other ranks get None."""
    import transformers
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    if dataset.train.multi_label:
        from core.train.multilabel_recipe import train_multilabel

        return train_multilabel(config, dataset, workdir, reporter)
    reporter = reporter or SilentReporter()
    started = time.monotonic()
    transformers.set_seed(config.seed)
    transformers.logging.set_verbosity_warning()
    device = choose_device(config.device)
    labels = tuple(dataset.classes)
    positive = positive_label(labels)
    index = {label: i for i, label in enumerate(labels)}
    train_texts = [config.cleaning.apply(t) for t in dataset.train.texts]
    valid_texts = [config.cleaning.apply(t) for t in dataset.valid.texts]
    y_train = np.array([index[label] for label in dataset.train.labels], dtype=np.int64)
    y_valid = np.array([index[label] for label in dataset.valid.labels], dtype=np.int64)
    # Label names that are words join the training rows (the finetune's and the head's).
    train_texts, y_train, _ = with_label_names(train_texts, y_train, labels, config.label_names)

    rank, world_size = world()
    reporter.phase("baseline")
    model = load_model(config.base_model, device=device.torch_device)
    if config.max_seq_length:
        model.max_seq_length = min(config.max_seq_length, model.max_seq_length or 10**9)
    # Under torchrun / accelerate, rank 0 measures (sentence-transformers shares its encodes
    # out between the processes); the others need only the baseline head, for the loss.
    with distributed_evaluation(model) as leader:
        if leader:
            base_train, base_valid = encode(model, train_texts), encode(model, valid_texts)
            baseline_head = fit_head(base_train, y_train, config)
            baseline = evaluate_head(baseline_head, base_valid, y_valid, labels, positive)
            base_point = {"step": 0, "epoch": 0.0, "metrics": baseline.metrics.to_dict()}
            reporter.evaluation(base_point)
    if world_size > 1:
        rows = 1 if len(labels) == 2 else len(labels)
        baseline_head = broadcast_head(
            baseline_head if rank == 0 else None, rows, embedding_dim(model)
        )
    if stop_everywhere(reporter):
        raise Cancelled

    reporter.phase("finetune")
    evaluator = HeadEvaluator(
        train_texts, y_train, valid_texts, y_valid, labels, positive, config, reporter
    )
    loss = _make_loss(config, model, baseline_head, y_train, len(labels))
    trainer = SentenceTransformerTrainer(
        model=model,
        args=SentenceTransformerTrainingArguments(
            **training_arguments(
                config,
                device,
                workdir / "checkpoints",
                len(train_texts),
                world_size,
                checkpoint_metric,
            )
        ),
        train_dataset=Dataset.from_dict({"text": train_texts, "label": y_train.tolist()}),
        loss=loss,
        evaluator=evaluator,
        callbacks=[_progress_callback(reporter, loss)],
    )
    if config.early_stopping_patience > 0:
        from transformers import EarlyStoppingCallback

        trainer.add_callback(EarlyStoppingCallback(config.early_stopping_patience))
    trainer.train()
    if stop_everywhere(reporter):
        raise Cancelled
    model = trainer.model

    with distributed_evaluation(model) as leader:
        if not leader:
            return None  # rank 0 fits the head, evaluates and saves; this rank lent its encodes
        reporter.phase("head")
        train_embeddings, valid_embeddings = encode(model, train_texts), encode(model, valid_texts)
        head = fit_head(train_embeddings, y_train, config)
        final = evaluate_head(head, valid_embeddings, y_valid, labels, positive)
        log_losses = (
            head_log_loss(head, valid_embeddings, y_valid, len(labels)),
            head_log_loss(baseline_head, base_valid, y_valid, len(labels)),
        )
        finetune_kept, note = True, ""
        if not keep(final, baseline):
            # The frozen base model is a checkpoint too: never hand over something worse.
            model = load_model(config.base_model, device=device.torch_device)
            if config.max_seq_length:
                model.max_seq_length = min(config.max_seq_length, model.max_seq_length or 10**9)
            head, final, finetune_kept = baseline_head, baseline, False
            train_embeddings, valid_embeddings = base_train, base_valid
            note = (
                "Finetuning did not beat the base model on the validation split "
                f"(best macro-F1 {max(p['metrics']['macro_f1'] for p in evaluator.history):.3f} vs "
                f"{baseline.metrics.macro_f1:.3f}), so this run keeps the base model with a "
                "logistic-regression head."
            )
        if config.refit_head_on_all and len(valid_texts):
            # The validation rows chose the checkpoint and measured it (`final`); the head the user
            # gets then learns from every labelled row. With few examples per label this matters:
            # clinc150 at 500 rows has ~3 per label, one of which the validation split holds out.
            head = fit_head(
                np.vstack([train_embeddings, valid_embeddings]),
                np.concatenate([y_train, y_valid]),
                config,
            )
        return TrainResult(
            model=model,
            head=head,
            labels=labels,
            positive_label=positive,
            cleaning=config.cleaning,
            device=device,
            baseline=baseline,
            final=final,
            history=[base_point, *evaluator.history],
            finetune_kept=finetune_kept,
            note=note,
            train_seconds=time.monotonic() - started,
            valid_log_loss=log_losses,
        )

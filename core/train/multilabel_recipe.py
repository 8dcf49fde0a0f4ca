"""The recipe for multi-label data (a text can carry several labels): baseline -> finetune the
body through a sigmoid / binary cross-entropy head initialised from one-vs-rest probes -> fit
one-vs-rest logistic-regression heads -> choose a decision threshold per label on validation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from core.config import TrainConfig
from core.data.labeled import DataSet
from core.errors import ConfigError
from core.model.catalogue import choose_device, load_model
from core.model.heads import encode, fit_multilabel_head
from core.train.label_names import with_label_names
from core.train.multilabel import fit_thresholded_head, indicator, label_sets_of

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from core.train.recipe import Reporter, TrainResult


# ----------------------------------------------------------------------------- training


class MultiLabelHeadEvaluator(SentenceEvaluator):
    """After each evaluation interval: refit the one-vs-rest heads on the current embeddings,
    choose the thresholds and score on validation — the classifier the user would get now."""

    def __init__(
        self,
        train_texts: Sequence[str],
        y_train: np.ndarray,
        valid_texts: Sequence[str],
        y_valid: np.ndarray,
        labels: Sequence[str],
        config: TrainConfig,
        reporter: Reporter,
    ) -> None:
        super().__init__()
        self.train_texts, self.y_train = list(train_texts), y_train
        self.valid_texts, self.y_valid = list(valid_texts), y_valid
        self.labels, self.config, self.reporter = list(labels), config, reporter
        self.name = "valid"
        self.greater_is_better = True
        self.primary_metric = "valid_f1"
        self.history: list[dict[str, Any]] = []

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        _, evaluation = fit_thresholded_head(
            encode(model, self.train_texts),
            self.y_train,
            encode(model, self.valid_texts),
            self.y_valid,
            self.labels,
            self.config,
        )
        point = {
            "step": int(steps),
            "epoch": round(float(epoch), 4),
            "metrics": evaluation.metrics.to_dict(),
        }
        self.history.append(point)
        self.reporter.evaluation(point)
        return {f"valid_{name}": value for name, value in evaluation.metrics.scores().items()}


def _load_body(config: TrainConfig, device: str) -> SentenceTransformer:
    model = load_model(config.base_model, device=device)
    if config.max_seq_length:
        model.max_seq_length = min(config.max_seq_length, model.max_seq_length or 10**9)
    return model


def train_multilabel(
    config: TrainConfig, dataset: DataSet, workdir: Path, reporter: Reporter | None = None
) -> TrainResult:
    """The multi-label recipe on a prepared data set (one process; see the module docstring).
    Best checkpoint, early stopping and the never-worse guard follow validation micro-F1."""
    import torch
    import transformers
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    from core.train.distributed import world
    from core.train.losses import SigmoidClassificationLoss
    from core.train.recipe import (
        Cancelled,
        SilentReporter,
        TrainResult,
        _progress_callback,
        training_arguments,
    )

    config.check_multi_label()
    if world()[1] > 1:
        raise ConfigError("a multi-label finetune runs on one device: launch it without torchrun")
    reporter = reporter or SilentReporter()
    started = time.monotonic()
    transformers.set_seed(config.seed)
    transformers.logging.set_verbosity_warning()
    device = choose_device(config.device)
    labels = tuple(dataset.classes)
    train_texts = [config.cleaning.apply(t) for t in dataset.train.texts]
    valid_texts = [config.cleaning.apply(t) for t in dataset.valid.texts]
    y_train = indicator(label_sets_of(dataset.train), labels)
    y_valid = indicator(label_sets_of(dataset.valid), labels)
    # Label names that are words join the training rows, each carrying its own label alone.
    train_texts, y_train, _ = with_label_names(train_texts, y_train, labels, config.label_names)

    reporter.phase("baseline")
    model = _load_body(config, device.torch_device)
    base_train, base_valid = encode(model, train_texts), encode(model, valid_texts)
    baseline_head, baseline = fit_thresholded_head(
        base_train, y_train, base_valid, y_valid, labels, config
    )
    base_point = {"step": 0, "epoch": 0.0, "metrics": baseline.metrics.to_dict()}
    reporter.evaluation(base_point)
    if reporter.should_stop():
        raise Cancelled

    reporter.phase("finetune")
    evaluator = MultiLabelHeadEvaluator(
        train_texts, y_train, valid_texts, y_valid, labels, config, reporter
    )
    pos_weight = None
    if config.balanced_weights:
        positives = np.maximum(y_train.sum(axis=0), 1).astype(np.float64)
        pos_weight = torch.tensor((len(y_train) - positives) / positives).float()
    loss = SigmoidClassificationLoss(
        model,
        len(labels),
        weight=torch.tensor(baseline_head.coef_),
        bias=torch.tensor(baseline_head.intercept_),
        pos_weight=pos_weight,
    )
    arguments = training_arguments(config, device, workdir / "checkpoints", len(train_texts))
    arguments["metric_for_best_model"] = "eval_valid_f1"  # micro-F1 for multi-label runs
    trainer = SentenceTransformerTrainer(
        model=model,
        args=SentenceTransformerTrainingArguments(**arguments),
        train_dataset=Dataset.from_dict(
            {"text": train_texts, "label": y_train.astype(np.float32).tolist()}
        ),
        loss=loss,
        evaluator=evaluator,
        callbacks=[_progress_callback(reporter)],
    )
    if config.early_stopping_patience > 0:
        from transformers import EarlyStoppingCallback

        trainer.add_callback(EarlyStoppingCallback(config.early_stopping_patience))
    trainer.train()
    if reporter.should_stop():
        raise Cancelled
    model = trainer.model

    reporter.phase("head")
    train_embeddings, valid_embeddings = encode(model, train_texts), encode(model, valid_texts)
    head, final = fit_thresholded_head(
        train_embeddings, y_train, valid_embeddings, y_valid, labels, config
    )
    finetune_kept, note = True, ""
    if final.metrics.f1 < baseline.metrics.f1:
        # The frozen base model is a checkpoint too: never hand over something worse.
        model = _load_body(config, device.torch_device)
        head, final, finetune_kept = baseline_head, baseline, False
        train_embeddings, valid_embeddings = base_train, base_valid
        best = max(p["metrics"]["f1"] for p in evaluator.history) if evaluator.history else 0.0
        note = (
            "Finetuning did not beat the base model on the validation split "
            f"(best micro-F1 {best:.3f} vs {baseline.metrics.f1:.3f}), so this run keeps the "
            "base model with one-vs-rest logistic-regression heads."
        )
    if config.refit_head_on_all and len(valid_texts):
        # As in the single-label recipe: the served heads learn from every labelled row; the
        # thresholds stay those chosen on validation rows the measured heads had not seen.
        thresholds = head.thresholds_
        head = fit_multilabel_head(
            np.vstack([train_embeddings, valid_embeddings]),
            np.vstack([y_train, y_valid]),
            config,
        )
        if thresholds is not None:
            head = head.with_thresholds(thresholds)
    return TrainResult(
        model=model,
        head=head,
        labels=labels,
        positive_label=None,
        cleaning=config.cleaning,
        device=device,
        baseline=baseline,
        final=final,
        history=[base_point, *evaluator.history],
        finetune_kept=finetune_kept,
        note=note,
        train_seconds=time.monotonic() - started,
    )

"""What single- and multi-label classification differ in, in one place: how labels become
targets, the head (fit, predict, thresholds), the finetuning loss, what "a better checkpoint"
means, and how the base model is scored. The recipe (core.train.recipe), the test-file
evaluation (core.runs.evaluate) and the run's progress read a task; none of them branches on
multi-label. As SetFit makes multi-label one argument (`multi_target_strategy`) and
scikit-learn lets the estimator own its target.

- `SingleLabel`: one label per text; a softmax logistic-regression head; cross-entropy; a
  checkpoint is better when its validation macro-F1 is higher.
- `MultiLabel`: any number of labels per text; one-vs-rest logistic regressions with a decision
  threshold per label chosen on validation; binary cross-entropy; better = validation micro-F1.

The base model's head, for the validation baseline and the test-file baseline alike, is
`base_head` below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.config import TrainConfig
from core.data.labeled import DataSet, LabeledTexts
from core.errors import ConfigError, DataError
from core.model.heads import SigmoidHead, fit_head, fit_multilabel_head, head_as_softmax
from core.train.label_names import with_label_names
from core.train.metrics import (
    UNSEEN_CHOICES,
    Evaluation,
    describe_unseen,
    evaluate_predictions,
    positive_label,
    unseen_labels,
)
from core.train.multilabel import evaluate_multilabel, fit_thresholded_head
from core.train.multilabel_intervals import indicator

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression
    from torch import nn

    from core.model.classifier import Classifier

Head = Any  # LogisticRegression (single-label) or SigmoidHead (multi-label)


class Task(Protocol):
    """One kind of classification problem (see the module docstring)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def multi_label(self) -> bool: ...

    @property
    def checkpoint_metric(self) -> str:
        """The validation score that chooses checkpoints and the kept model."""
        ...

    @property
    def metric_words(self) -> str:
        """That score in the user's words."""
        ...

    @property
    def head_words(self) -> str:
        """The head in the user's words, for messages."""
        ...

    @property
    def positive(self) -> str | None:
        """The positive label of two (its F1 is the headline), else None."""
        ...

    def targets(self, data: LabeledTexts) -> np.ndarray: ...

    def fit_head(
        self, x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
    ) -> Head: ...

    def refit_head(self, head: Head, x: np.ndarray, y: np.ndarray) -> Head: ...

    def evaluate(self, head: Head, x: np.ndarray, y: np.ndarray) -> Evaluation: ...

    def log_loss(self, head: Head, x: np.ndarray, y: np.ndarray) -> float | None: ...

    def score_classifier(self, classifier: Classifier, test: LabeledTexts) -> Evaluation: ...

    def loss(self, model: SentenceTransformer, head: Head, y_train: np.ndarray) -> nn.Module: ...

    def check(self, world_size: int) -> None: ...


def better(task: Task, final: Evaluation, baseline: Evaluation) -> bool:
    """Whether a finetune keeps its place over the base model: unless it is clearly worse on
    the validation split (the paired-bootstrap interval of its checkpoint metric's gain lies
    below zero; without per-row predictions, its score is lower).

    With one or two validation rows per label a finetune that ties or trails its base model by
    a text or two is noise; "keep the better score" then threw away finetunes that were better
    on the test file (bench/selection.py, docs/BENCHMARKS.md "Keep or discard")."""
    name = task.checkpoint_metric
    interval = final.gain_intervals(baseline).get(name)
    if interval is None:
        return getattr(final.metrics, name) >= getattr(baseline.metrics, name)
    return interval[1] >= 0


@dataclass(frozen=True)
class SingleLabel:
    labels: tuple[str, ...]
    config: TrainConfig
    multi_label: bool = False
    checkpoint_metric: str = "macro_f1"
    metric_words: str = "macro-F1"
    head_words: str = "a logistic-regression head"

    @property
    def positive(self) -> str | None:
        return positive_label(self.labels)

    def targets(self, data: LabeledTexts) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[label] for label in data.labels], dtype=np.int64)

    def fit_head(
        self, x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
    ) -> LogisticRegression:
        return fit_head(x_train, y_train, self.config)

    def refit_head(self, head: Head, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        return fit_head(x, y, self.config)

    def evaluate(self, head: LogisticRegression, x: np.ndarray, y: np.ndarray) -> Evaluation:
        """Metrics of the head's predictions, with labels as the user wrote them."""
        names = np.asarray(self.labels, dtype=object)
        if not len(x):
            return evaluate_predictions(list(names[y]), [], self.labels, self.positive)
        probabilities = head.predict_proba(x)
        # classes_ maps the head's columns to label ids (a label missing from training has none).
        predicted = names[head.classes_[probabilities.argmax(axis=1)]]
        return evaluate_predictions(
            list(names[y]), list(predicted), self.labels, self.positive, probabilities.max(axis=1)
        )

    def score_classifier(self, classifier: Classifier, test: LabeledTexts) -> Evaluation:
        """A served classifier scored on labelled texts (labels it does not know among
        `labels` count as errors: it never predicts them)."""
        probabilities = classifier.predict_proba(test.texts)
        classes = [str(c) for c in classifier.classes_]
        predicted = [classes[i] for i in probabilities.argmax(axis=1)]
        return evaluate_predictions(
            list(test.labels), predicted, self.labels, confidence=probabilities.max(axis=1)
        )

    def log_loss(self, head: LogisticRegression, x: np.ndarray, y: np.ndarray) -> float:
        """The head's mean log-loss on labelled rows: unlike F1 it reads every row's
        probability, so one or two rows per label still move it smoothly."""
        from sklearn.metrics import log_loss

        if not len(x):
            return 0.0
        probabilities = np.full((len(x), len(self.labels)), 1e-12)
        probabilities[:, head.classes_] = head.predict_proba(x)
        probabilities /= probabilities.sum(axis=1, keepdims=True)  # a label the head never saw
        return float(log_loss(y, probabilities, labels=list(range(len(self.labels)))))

    def loss(self, model: SentenceTransformer, head: LogisticRegression, y_train: np.ndarray):
        """Cross-entropy through a softmax head started from the base model's head."""
        import torch

        from core.train.losses import SoftmaxClassificationLoss

        k = len(self.labels)
        weight, bias = head_as_softmax(head, k)
        class_weights = None
        if self.config.balanced_weights:
            counts = np.bincount(y_train, minlength=k).astype(np.float64)
            class_weights = torch.tensor(len(y_train) / (k * np.maximum(counts, 1))).float()
        return SoftmaxClassificationLoss(
            model,
            k,
            weight=torch.tensor(weight),
            bias=torch.tensor(bias),
            class_weights=class_weights,
        )

    def check(self, world_size: int) -> None:
        """Any launch trains one label per text."""


@dataclass(frozen=True)
class MultiLabel:
    labels: tuple[str, ...]
    config: TrainConfig
    multi_label: bool = True
    checkpoint_metric: str = "f1"  # micro-F1
    metric_words: str = "micro-F1"
    head_words: str = "one-vs-rest logistic-regression heads"

    @property
    def positive(self) -> str | None:
        return None

    def targets(self, data: LabeledTexts) -> np.ndarray:
        sets = data.label_sets if data.label_sets is not None else [(x,) for x in data.labels]
        return indicator(sets, self.labels)

    def fit_head(
        self, x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
    ) -> SigmoidHead:
        """One-vs-rest heads on the training rows, a threshold per label chosen on validation."""
        head, _ = fit_thresholded_head(x_train, y_train, x_valid, y_valid, self.labels, self.config)
        return head

    def refit_head(self, head: SigmoidHead, x: np.ndarray, y: np.ndarray) -> SigmoidHead:
        """The heads learnt again from more rows; the thresholds stay those chosen on
        validation rows the measured heads had not seen."""
        refitted = fit_multilabel_head(x, y, self.config)
        return refitted if head.thresholds_ is None else refitted.with_thresholds(head.thresholds_)

    def evaluate(self, head: SigmoidHead, x: np.ndarray, y: np.ndarray) -> Evaluation:
        return evaluate_multilabel(y, head.predict(x), self.labels)

    def score_classifier(self, classifier: Classifier, test: LabeledTexts) -> Evaluation:
        """A served classifier scored on labelled texts: every label above its threshold."""
        predicted = indicator(classifier.predict_labels(test.texts), self.labels)
        return evaluate_multilabel(self.targets(test), predicted, self.labels)

    def log_loss(self, head: SigmoidHead, x: np.ndarray, y: np.ndarray) -> float | None:
        return None  # measured for single-label checkpoints only

    def loss(self, model: SentenceTransformer, head: SigmoidHead, y_train: np.ndarray):
        """Binary cross-entropy through sigmoid heads started from the base model's heads."""
        import torch

        from core.train.losses import SigmoidClassificationLoss

        pos_weight = None
        if self.config.balanced_weights:
            positives = np.maximum(y_train.sum(axis=0), 1).astype(np.float64)
            pos_weight = torch.tensor((len(y_train) - positives) / positives).float()
        return SigmoidClassificationLoss(
            model,
            len(self.labels),
            weight=torch.tensor(head.coef_),
            bias=torch.tensor(head.intercept_),
            pos_weight=pos_weight,
        )

    def check(self, world_size: int) -> None:
        if world_size > 1:
            raise ConfigError(
                "a multi-label finetune runs on one device: launch it without torchrun"
            )


def task_for(labels: Sequence[str], multi_label: bool, config: TrainConfig) -> Task:
    """The task of a run's labels."""
    kind = MultiLabel if multi_label else SingleLabel
    return kind(tuple(labels), config)


def dataset_task(dataset: DataSet, config: TrainConfig) -> Task:
    return task_for(dataset.classes, dataset.train.multi_label, config)


# ----------------------------------------------------------------------------- the rows


@dataclass(frozen=True)
class Rows:
    """A data set as the recipe learns from it: cleaned texts and their targets, the label
    names joined to the training rows (when they say something)."""

    train_texts: list[str]
    y_train: np.ndarray
    valid_texts: list[str]
    y_valid: np.ndarray
    names_added: int


def training_rows(task: Task, dataset: DataSet, config: TrainConfig) -> Rows:
    clean = config.cleaning.apply
    train_texts = [clean(t) for t in dataset.train.texts]
    valid_texts = [clean(t) for t in dataset.valid.texts]
    train_texts, y_train, added = with_label_names(
        train_texts, task.targets(dataset.train), task.labels, config.label_names
    )
    return Rows(train_texts, y_train, valid_texts, task.targets(dataset.valid), added)


# ----------------------------------------------------------------------------- the baseline


@dataclass(frozen=True)
class BaseHead:
    """The base model's head: `measured` learnt from the training rows and scored on the
    validation rows (`evaluation`); `served` is what a user of the base model gets (learnt
    from every labelled row when the config refits on all)."""

    measured: Head
    served: Head
    evaluation: Evaluation


def base_head(
    task: Task,
    rows: Rows,
    x_train: np.ndarray,
    x_valid: np.ndarray,
    config: TrainConfig,
) -> BaseHead:
    """The one rule for scoring the base model: the run's head recipe on the frozen model's
    embeddings of the same rows (`x_train`, `x_valid`: the base model's encodes of
    `rows.train_texts` and `rows.valid_texts`). The recipe's validation baseline and the
    test-file baseline (core.runs.evaluate) are both this."""
    measured = task.fit_head(x_train, rows.y_train, x_valid, rows.y_valid)
    evaluation = task.evaluate(measured, x_valid, rows.y_valid)
    return BaseHead(
        measured, served_head(task, measured, rows, x_train, x_valid, config), evaluation
    )


def served_head(
    task: Task,
    head: Head,
    rows: Rows,
    x_train: np.ndarray,
    x_valid: np.ndarray,
    config: TrainConfig,
) -> Head:
    """The head a user gets: the validation rows chose and measured `head`; with
    `refit_head_on_all` it then learns from every labelled row. With few examples per label
    this matters: clinc150 at 500 rows has ~3 per label, one of which validation holds out."""
    if not (config.refit_head_on_all and len(x_valid)):
        return head
    y = np.concatenate([rows.y_train, rows.y_valid])  # label ids or indicator rows
    return task.refit_head(head, np.vstack([x_train, x_valid]), y)


# ----------------------------------------------------------------------------- scoring a model


def evaluate_classifier(
    classifier: Classifier, test: LabeledTexts, unseen: str = "count"
) -> Evaluation:
    """A classifier scored on labelled texts it was not trained on. Rows of a label it never
    learnt count as errors (`unseen="count"`) or are left out (`"skip"`)."""
    if unseen not in UNSEEN_CHOICES:
        raise ValueError(f"unseen must be one of {UNSEEN_CHOICES}, got {unseen!r}")
    labels = [str(c) for c in classifier.classes_]
    new = unseen_labels(test, labels)
    skipped = 0
    if new and unseen == "skip":
        drop = {row for rows in new.values() for row in rows}
        keep = [i for i, row in enumerate(test.rows) if row not in drop]
        if not keep:
            raise DataError(
                "every row of the test file has a label the run never learnt "
                f"({describe_unseen(new)})"
            )
        skipped, test = len(test) - len(keep), test.subset(keep)
    extra = tuple(new) if unseen == "count" else ()
    task = task_for([*labels, *extra], classifier.multi_label, TrainConfig())
    evaluation = task.score_classifier(classifier, test)
    return replace(evaluation, unseen_labels=tuple(new), skipped=skipped)

"""What single- and multi-label classification differ in, in one place: how labels become
targets, the head (fit, predict, thresholds), the finetuning loss, which scores lead and what
"a better checkpoint" means, and how the base model is scored (`base_head`). The recipe, the
test-file evaluation, the outcome and the pages read a task; none of them branches on
multi-label (as SetFit makes it one argument, `multi_target_strategy`, and scikit-learn lets
the estimator own its target). docs/ARCHITECTURE.md tabulates the two tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from core.config import TrainConfig
from core.data.labeled import DataSet, LabeledTexts
from core.errors import ConfigError
from core.model.heads import SigmoidHead, fit_head, fit_multilabel_head, head_as_softmax
from core.train import intervals, multilabel_intervals
from core.train import multilabel as ml
from core.train.label_names import with_label_names
from core.train.metrics import (
    HEADLINE,
    METRIC_TITLES,
    UNSEEN_OPTIONS,
    Evaluation,
    Metrics,
    evaluate_predictions,
    positive_label,
)
from core.train.multilabel_intervals import indicator

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression
    from torch import nn

    from core.model.classifier import Classifier

Head = Any  # LogisticRegression (single-label) or SigmoidHead (multi-label)
Intervals = dict[str, tuple[float, float]]


class Task(Protocol):
    """One kind of classification problem (see the module docstring)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def checkpoint_metric(self) -> str: ...  # the validation score choosing checkpoints

    @property
    def metric_words(self) -> str: ...  # that score in the user's words

    @property
    def head_words(self) -> str: ...  # the head in the user's words, for messages

    titles: ClassVar[Mapping[str, str]]  # each score's title
    headline: ClassVar[tuple[str, ...]]  # the scores a page shows as tiles, in order
    unseen_options: ClassVar[Mapping[str, str]]  # UNSEEN_CHOICES in words

    @property
    def positive(self) -> str | None: ...  # the positive label of two (its F1 leads), else None

    def f1_name(self, metrics: Metrics) -> str: ...  # which F1 the headline is, in words

    def scope(self, metrics: Metrics) -> str: ...  # what the shown scores are, in a sentence

    def unseen_cost(self, evaluation: Evaluation) -> str: ...  # what unlearnt labels cost

    def gains(self, final: Evaluation, baseline: Evaluation) -> Intervals: ...  # paired

    def label_gains(self, final: Evaluation, baseline: Evaluation) -> Intervals: ...  # per label

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
    below zero; without per-row predictions, its score is lower). "Keep the better score" threw
    away finetunes that were better on the test file (docs/BENCHMARKS.md "Keep or discard")."""
    name = task.checkpoint_metric
    interval = gain_intervals(final, baseline).get(name)
    if interval is None:
        return getattr(final.metrics, name) >= getattr(baseline.metrics, name)
    return interval[1] >= 0


def _same_rows(final: Evaluation, baseline: Evaluation) -> bool:
    # Runs from before per-row predictions were kept, or another file's rows: no paired gain.
    return bool(final.y_pred and baseline.y_pred) and final.y_true == baseline.y_true


def _rows(final: Evaluation, baseline: Evaluation) -> tuple[Any, Any, Any]:
    return final.y_true, final.y_pred, baseline.y_pred


def gain_intervals(final: Evaluation, baseline: Evaluation) -> Intervals:
    """Paired-bootstrap 95 % intervals of each score's gain over `baseline` on the same rows;
    empty when either lacks its per-row predictions or the rows differ."""
    return scored_task(final).gains(final, baseline) if _same_rows(final, baseline) else {}


def labels_clearly_worse(final: Evaluation, baseline: Evaluation) -> list[tuple[str, float, float]]:
    """The labels whose F1 fell below the baseline's by more than the noise of these rows
    (their gain's interval below zero), as (label, F1 before, F1 after), largest fall first."""
    if not _same_rows(final, baseline):
        return []
    before = {c.label: c.f1 for c in baseline.per_class}
    after = {c.label: c.f1 for c in final.per_class}
    fell = [
        (label, before.get(label, 0.0), after.get(label, 0.0))
        for label, (_, high) in scored_task(final).label_gains(final, baseline).items()
        if high < 0
    ]
    return sorted(fell, key=lambda item: item[2] - item[1])


@dataclass(frozen=True)
class SingleLabel:
    labels: tuple[str, ...]
    config: TrainConfig
    checkpoint_metric: str = "macro_f1"
    metric_words: str = "macro-F1"
    head_words: str = "a logistic-regression head"
    titles: ClassVar[Mapping[str, str]] = METRIC_TITLES
    headline: ClassVar[tuple[str, ...]] = HEADLINE
    unseen_options: ClassVar[Mapping[str, str]] = UNSEEN_OPTIONS

    @property
    def positive(self) -> str | None:
        return positive_label(self.labels)

    def f1_name(self, metrics: Metrics) -> str:
        """'F1 of the label 'spam'' (two labels) or 'macro-F1'."""
        pos = metrics.positive_label
        return "macro-F1" if pos is None else f"F1 of the label {pos!r}"

    def scope(self, metrics: Metrics) -> str:
        pos = metrics.positive_label
        of = "averaged over the labels (macro)" if pos is None else f"of the label {pos!r}"
        return f"F1, precision and recall {of}"

    def unseen_cost(self, evaluation: Evaluation) -> str:
        n = sum(y in evaluation.unseen_labels for y in evaluation.y_true)
        return f"{n} row{' counts as an error' if n == 1 else 's count as errors'}"

    def gains(self, final: Evaluation, baseline: Evaluation) -> Intervals:
        truth, pred, base = _rows(final, baseline)
        return intervals.gain_intervals(
            truth, pred, base, final.labels, final.metrics.positive_label
        )

    def label_gains(self, final: Evaluation, baseline: Evaluation) -> Intervals:
        return intervals.label_gain_intervals(*_rows(final, baseline), final.labels)

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
        start = {"weight": torch.tensor(weight), "bias": torch.tensor(bias)}
        return SoftmaxClassificationLoss(model, k, **start, class_weights=class_weights)

    def check(self, world_size: int) -> None:
        return  # any launch trains one label per text


@dataclass(frozen=True)
class MultiLabel:
    labels: tuple[str, ...]
    config: TrainConfig
    checkpoint_metric: str = "f1"  # micro-F1
    metric_words: str = "micro-F1"
    head_words: str = "one-vs-rest logistic-regression heads"
    titles: ClassVar[Mapping[str, str]] = ml.METRIC_TITLES
    unseen_options: ClassVar[Mapping[str, str]] = ml.UNSEEN_OPTIONS
    # Micro-F1 weighs frequent labels most, so macro-F1 (every label alike) stands beside it.
    headline: ClassVar[tuple[str, ...]] = ("accuracy", "f1", "macro_f1", "precision", "recall")

    @property
    def positive(self) -> str | None:
        return None

    def f1_name(self, metrics: Metrics) -> str:
        return "micro-F1"

    def scope(self, metrics: Metrics) -> str:
        exact = (
            f"subset accuracy {metrics.subset_accuracy:.3f} (texts with exactly the right labels)"
        )
        return (
            "Multi-label: Hamming accuracy (right yes / no answers over every text and label), "
            f"micro-averaged F1, precision and recall; {exact}"
        )

    def unseen_cost(self, evaluation: Evaluation) -> str:
        return "each counts as a label the model missed"

    def gains(self, final: Evaluation, baseline: Evaluation) -> Intervals:
        truth, pred, base = (indicator(y, final.labels) for y in _rows(final, baseline))
        return multilabel_intervals.multilabel_intervals(truth, pred, base)

    def label_gains(self, final: Evaluation, baseline: Evaluation) -> Intervals:
        truth, pred, base = (indicator(y, final.labels) for y in _rows(final, baseline))
        return multilabel_intervals.label_gain_intervals(truth, pred, base, final.labels)

    def targets(self, data: LabeledTexts) -> np.ndarray:
        return indicator(data.row_labels, self.labels)

    def fit_head(
        self, x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
    ) -> SigmoidHead:
        """One-vs-rest heads on the training rows, a threshold per label chosen on validation."""
        y = (y_train, x_valid, y_valid)
        return ml.fit_thresholded_head(x_train, *y, self.labels, self.config)[0]

    def refit_head(self, head: SigmoidHead, x: np.ndarray, y: np.ndarray) -> SigmoidHead:
        """The heads learnt again from more rows; the thresholds stay those chosen on
        validation rows the measured heads had not seen."""
        refitted = fit_multilabel_head(x, y, self.config)
        return refitted if head.thresholds_ is None else refitted.with_thresholds(head.thresholds_)

    def evaluate(self, head: SigmoidHead, x: np.ndarray, y: np.ndarray) -> Evaluation:
        return ml.evaluate_multilabel(y, head.predict(x), self.labels)

    def score_classifier(self, classifier: Classifier, test: LabeledTexts) -> Evaluation:
        """A served classifier scored on labelled texts: every label above its threshold."""
        predicted = indicator(classifier.predict_labels(test.texts), self.labels)
        return ml.evaluate_multilabel(self.targets(test), predicted, self.labels)

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
        start = {"weight": torch.tensor(head.coef_), "bias": torch.tensor(head.intercept_)}
        return SigmoidClassificationLoss(model, len(self.labels), **start, pos_weight=pos_weight)

    def check(self, world_size: int) -> None:
        if world_size > 1:
            message = "a multi-label finetune runs on one device: launch it without torchrun"
            raise ConfigError(message)


def task_for(labels: Sequence[str], multi_label: bool, config: TrainConfig) -> Task:
    return (MultiLabel if multi_label else SingleLabel)(tuple(labels), config)


def dataset_task(dataset: DataSet, config: TrainConfig) -> Task:
    return task_for(dataset.classes, dataset.train.multi_label, config)


def scored_task(scores: Evaluation | Metrics | Mapping[str, Any]) -> Task:
    """The task whose scores these are (an evaluation, its metrics or their stored dict)."""
    labels = scores.labels if isinstance(scores, Evaluation) else ()
    metrics = scores.metrics if isinstance(scores, Evaluation) else scores
    average = metrics.average if isinstance(metrics, Metrics) else metrics.get("average")
    return task_for(labels, average == "micro", TrainConfig())


@dataclass(frozen=True)
class Rows:
    """A data set as the recipe learns from it: cleaned texts, targets, label-name rows."""

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


@dataclass(frozen=True)
class BaseHead:
    """`measured` learnt from the training rows and scored on validation (`evaluation`);
    `served`, what a user of the base model gets (see served_head)."""

    measured: Head
    served: Head
    evaluation: Evaluation


def base_head(
    task: Task, rows: Rows, x_train: np.ndarray, x_valid: np.ndarray, config: TrainConfig
) -> BaseHead:
    """The one rule for scoring the base model: the run's head recipe on the frozen model's
    embeddings of the same rows (`x_train`, `x_valid`: the base model's encodes of
    `rows.train_texts` and `rows.valid_texts`). The recipe's validation baseline and the
    test-file baseline (core.runs.evaluate) are both this."""
    measured = task.fit_head(x_train, rows.y_train, x_valid, rows.y_valid)
    served = served_head(task, measured, rows, x_train, x_valid, config)
    return BaseHead(measured, served, task.evaluate(measured, x_valid, rows.y_valid))


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

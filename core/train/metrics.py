"""Classification metrics from scikit-learn, gathered into records the app and CLI show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.records import Record

if TYPE_CHECKING:
    from core.data.labeled import LabeledTexts

# For two labels the headline scores are those of the positive class; these names say which
# label is "positive" when the user did not choose (otherwise: the second label in sorted order).
POSITIVE_NAMES = ("1", "true", "yes", "pos", "positive", "spam", "toxic")

# The scores every door shows, in this order, with their titles: the hosted platforms' four
# (HEADLINE), then macro-F1 (the same as F1 for more than two labels).
METRIC_TITLES = {
    "accuracy": "Accuracy",
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "macro_f1": "Macro-F1",
}
HEADLINE = ("accuracy", "f1", "precision", "recall")


def positive_label(classes: Sequence[str]) -> str | None:
    """The positive class of a binary problem (None with more than two labels)."""
    if len(classes) != 2:
        return None
    for label in classes:
        if label.strip().lower() in POSITIVE_NAMES:
            return label
    return classes[1]


@dataclass(frozen=True)
class Metrics(Record):
    """Accuracy, F1, precision and recall: binary scores of `positive_label` for two labels,
    macro-averaged otherwise; the macro figures are always there too."""

    accuracy: float
    f1: float
    precision: float
    recall: float
    macro_f1: float
    macro_precision: float
    macro_recall: float
    average: str  # "binary" or "macro"; "micro" for multi-label (core.train.multilabel)
    positive_label: str | None = None
    subset_accuracy: float | None = None  # multi-label: texts with exactly the right labels

    @classmethod
    def of(cls, accuracy: float, head: Sequence, macro: Sequence, average: str, **extra) -> Metrics:
        """From scikit-learn's (precision, recall, F1, support) of the headline and of the
        macro average."""
        p, r, f = (float(x) for x in head[:3])
        mp, mr, mf = (float(x) for x in macro[:3])
        return cls(float(accuracy), f, p, r, mf, mp, mr, average, **extra)

    def scores(self) -> dict[str, float]:
        """The shown scores (METRIC_TITLES), by name."""
        return {name: getattr(self, name) for name in METRIC_TITLES}

    def gain_over(self, baseline: Metrics) -> dict[str, float]:
        """Each shown score minus the baseline's."""
        before = baseline.scores()
        return {name: value - before[name] for name, value in self.scores().items()}


@dataclass(frozen=True)
class ClassReport(Record):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


Label = str | tuple[str, ...]
"""A row's label: one name, or the tuple of a multi-label row's labels (in the run's order)."""


def label_text(label: Label) -> str:
    """A row's label as a file cell or a table shows it ("a|b" for several)."""
    from core.data.multilabel import join_labels

    return label if isinstance(label, str) else join_labels(label)


# A label with fewer evaluation examples than this has per-label scores that one text swings.
FEW_EXAMPLES = 5


@dataclass(frozen=True)
class Evaluation(Record):
    """Metrics with their 95 % bootstrap intervals, the per-class table, the confusion matrix
    (rows: true, columns: predicted) and each row's truth, prediction and confidence (what the
    intervals, the paired gain and the table of errors are computed from)."""

    metrics: Metrics
    labels: tuple[str, ...]
    per_class: tuple[ClassReport, ...] = field(default_factory=tuple)
    confusion_matrix: tuple[tuple[int, ...], ...] = field(default_factory=tuple)
    n: int = 0
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    y_true: tuple[Label, ...] = ()
    y_pred: tuple[Label, ...] = ()
    confidence: tuple[float, ...] = ()
    # Labels of the evaluated file the model never learnt: their rows count as errors, or were
    # left out (`skipped` of them) when the user chose so.
    unseen_labels: tuple[str, ...] = ()
    skipped: int = 0

    def few_examples(self, below: int = FEW_EXAMPLES) -> list[str]:
        """Labels with fewer than `below` evaluation examples (their scores rest on a handful)."""
        return [c.label for c in self.per_class if c.support < below]

    def __post_init__(self) -> None:
        # A multi-label evaluation kept before 2026-12-05 holds each row's labels as one cell
        # ("a|b"); read as the tuple of its labels, as they are kept now.
        if self.metrics.average == "micro" and any(isinstance(y, str) for y in self.y_true):
            from core.data.multilabel import split_cell

            for name in ("y_true", "y_pred"):
                rows = getattr(self, name)
                sets = tuple(split_cell(y) if isinstance(y, str) else y for y in rows)
                object.__setattr__(self, name, sets)


@dataclass(frozen=True)
class Mistake(Record):
    """One evaluation text the model got wrong."""

    row: int  # in the user's file
    text: str
    label: Label  # the true label
    predicted: Label
    confidence: float | None  # the model's probability of its prediction


def mistakes(evaluation: Evaluation, texts: Sequence[str], rows: Sequence[int]) -> list[Mistake]:
    """The texts an evaluation got wrong, most confident first (the surest errors are the ones
    to read: a wrong label in the data, or a real confusion)."""
    if len(texts) != len(evaluation.y_pred):
        return []  # stored before the per-row predictions were kept, or other rows
    confidence = evaluation.confidence or (None,) * len(texts)
    found = [
        Mistake(row, text, truth, pred, conf)
        for row, text, truth, pred, conf in zip(
            rows, texts, evaluation.y_true, evaluation.y_pred, confidence, strict=True
        )
        if truth != pred
    ]
    return sorted(found, key=lambda m: -(m.confidence or 0.0))


def present_labels(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> list[str]:
    """The labels that occur in these rows, as truth or prediction, in `labels`' order: what a
    macro average runs over. A label absent from both has no score; counting it as 0 would pull
    the average down on a test file (or a bootstrap draw) that lacks a few labels."""
    seen = set(y_true) | set(y_pred)
    return [label for label in labels if label in seen] or list(labels)


def compute_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], positive: str | None = None
) -> Metrics:
    """Scores of predictions against the truth over the given label set."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = list(labels)
    macro = precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=present_labels(y_true, y_pred, labels),
        average="macro",
        zero_division=0,
    )
    pos = positive if positive is not None else positive_label(labels)
    if len(labels) == 2 and pos is not None:
        head = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, pos_label=pos, average="binary", zero_division=0
        )
        average = "binary"
    else:
        head, average, pos = macro, "macro", None
    return Metrics.of(accuracy_score(y_true, y_pred), head, macro, average, positive_label=pos)


def evaluate_predictions(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    positive: str | None = None,
    confidence: Sequence[float] | None = None,
) -> Evaluation:
    """Metrics with bootstrap intervals, per-class report, confusion matrix and the per-row
    predictions (with the model's confidence in each, when given) in one record."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from core.train.intervals import score_intervals

    labels = list(labels)
    metrics = compute_metrics(y_true, y_pred, labels, positive)
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return Evaluation(
        metrics=metrics,
        labels=tuple(labels),
        per_class=tuple(
            ClassReport(lab, float(pi), float(ri), float(fi), int(si))
            for lab, pi, ri, fi, si in zip(labels, p, r, f, s, strict=True)
        ),
        confusion_matrix=tuple(tuple(int(v) for v in row) for row in matrix),
        n=len(y_true),
        intervals=score_intervals(y_true, y_pred, labels, metrics.positive_label),
        y_true=tuple(y_true),
        y_pred=tuple(y_pred),
        confidence=() if confidence is None else tuple(round(float(c), 4) for c in confidence),
    )


UNSEEN_CHOICES = ("count", "skip")
"""What scoring does with the rows of a label the model never learnt: count them as errors (the
model cannot get them right: an honest score of the file), or leave them out."""
UNSEEN_OPTIONS = {
    "count": "Count their rows as errors (the model cannot get them right: the file's own score)",
    "skip": "Leave their rows out (score only the labels the run learnt)",
}


def unseen_labels(test: LabeledTexts, known: Sequence[str]) -> dict[str, list[int]]:
    """The labels of a file that the model does not know, each with its rows in the file."""
    from core.data.labeled import unknown_label_rows

    return dict(sorted(unknown_label_rows(test, known).items()))


def describe_unseen(unseen: dict[str, list[int]], limit: int = 5) -> str:
    """'2 labels the run never learnt: a (3 rows), b (1 row)' for a message."""
    named = [
        f"{label!r} ({len(rows)} row{'s' if len(rows) != 1 else ''})"
        for label, rows in list(unseen.items())[:limit]
    ]
    more = f" and {len(unseen) - limit} more" if len(unseen) > limit else ""
    word = "label" if len(unseen) == 1 else "labels"
    return f"{len(unseen)} {word} the run never learnt: {', '.join(named)}{more}"

"""Multi-label metrics (micro / macro F1, Hamming and subset accuracy, per-label table) and the
decision threshold of each label, chosen on validation (no trainer imported: the pages and
`core evaluate` use this; the task that trains with it is core.train.task.MultiLabel)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.config import TrainConfig
from core.model.heads import SigmoidHead, fit_multilabel_head
from core.train.metrics import ClassReport, Evaluation, Metrics
from core.train.multilabel_intervals import multilabel_intervals

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)
"""Candidate decision thresholds of a label: the one with the best validation F1 of that label
wins (ties: the one nearest 0.5). A coarse grid: with ~10 validation positives per label a
finer one only fits noise."""
DEFAULT_THRESHOLD = 0.5
"""The threshold of a label without validation positives: the sigmoid's own midpoint."""

# How a door names the headline scores of a multi-label run (accuracy is Hamming accuracy, the
# hosted platform's multi-label accuracy; F1, precision and recall are micro-averaged).
METRIC_TITLES = {
    "accuracy": "Hamming accuracy",
    "f1": "Micro-F1",
    "precision": "Micro precision",
    "recall": "Micro recall",
    "macro_f1": "Macro-F1",
    "subset_accuracy": "Subset accuracy",
}


UNSEEN_OPTIONS = {
    "count": "Count each as a label the model missed (it cannot predict them: the file's own "
    "score)",
    "skip": "Leave the rows that carry them out",
}


# ----------------------------------------------------------------------------- metrics


def compute_multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Metrics:
    """Micro and macro scores of 0/1 matrices, Hamming and subset (exact match) accuracy."""
    from sklearn.metrics import accuracy_score, hamming_loss, precision_recall_fscore_support

    micro = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0)
    # Macro over the labels present in these rows (true or predicted), as single-label runs
    # average: a label absent from a test file and never predicted has no score to count.
    present = np.flatnonzero((np.asarray(y_true) + np.asarray(y_pred)).sum(axis=0) > 0)
    macro = precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=present if len(present) else None,
        average="macro",
        zero_division=0,
    )
    empty = len(y_true) == 0
    hamming = 0.0 if empty else 1.0 - float(hamming_loss(y_true, y_pred))
    exact = 0.0 if empty else float(accuracy_score(y_true, y_pred))
    return Metrics.of(hamming, micro, macro, "micro", subset_accuracy=exact)


def evaluate_multilabel(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]
) -> Evaluation:
    """Metrics and the per-label table (no confusion matrix: each label is its own yes/no)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    names = np.asarray(labels, dtype=object)

    def sets(y: np.ndarray) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(names[row.astype(bool)]) for row in y)

    return Evaluation(
        metrics=compute_multilabel_metrics(y_true, y_pred),
        labels=tuple(labels),
        per_class=tuple(
            ClassReport(lab, float(pi), float(ri), float(fi), int(si))
            for lab, pi, ri, fi, si in zip(labels, p, r, f, s, strict=True)
        ),
        n=len(y_true),
        intervals=multilabel_intervals(y_true, y_pred),
        # Each row's labels (in `labels` order): the table of errors and the paired gain.
        y_true=sets(y_true),
        y_pred=sets(y_pred),
    )


def choose_thresholds(probabilities: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Per label, the THRESHOLD_GRID value with the best F1 on these (validation) rows."""
    thresholds = np.full(y_true.shape[1], DEFAULT_THRESHOLD)
    order = np.argsort(np.abs(THRESHOLD_GRID - DEFAULT_THRESHOLD), kind="stable")
    grid = THRESHOLD_GRID[order]  # nearest 0.5 first: argmax keeps the first of equal scores
    for k in range(y_true.shape[1]):
        truth = y_true[:, k].astype(bool)
        if not truth.any():
            continue
        predicted = probabilities[:, k][None, :] >= grid[:, None]  # (grid, rows)
        tp = (predicted & truth).sum(axis=1)
        f1 = 2 * tp / (predicted.sum(axis=1) + truth.sum())
        thresholds[k] = grid[int(np.argmax(f1))]
    return thresholds


def fit_thresholded_head(
    train_embeddings: np.ndarray,
    y_train: np.ndarray,
    valid_embeddings: np.ndarray,
    y_valid: np.ndarray,
    labels: Sequence[str],
    config: TrainConfig,
) -> tuple[SigmoidHead, Evaluation]:
    """One-vs-rest heads on the training rows, thresholds chosen on validation, and the
    validation scores of the result."""
    head = fit_multilabel_head(train_embeddings, y_train, config)
    thresholds = choose_thresholds(head.predict_proba(valid_embeddings), y_valid)
    head = head.with_thresholds(thresholds)
    return head, evaluate_multilabel(y_valid, head.predict(valid_embeddings), labels)

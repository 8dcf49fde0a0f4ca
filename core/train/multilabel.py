"""Multi-label metrics (micro / macro F1, Hamming and subset accuracy, per-label table) and the
decision threshold of each label, chosen on validation (no trainer imported: the pages and
`core evaluate` use this; the recipe is core.train.multilabel_recipe)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from core.config import TrainConfig
from core.data.labeled import LabeledTexts
from core.model.heads import SigmoidHead, fit_multilabel_head
from core.train.metrics import ClassReport, Evaluation, Metrics

if TYPE_CHECKING:
    from core.model.classifier import Classifier

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


def indicator(label_sets: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """A 0/1 matrix (texts x labels) of which labels each text carries; unknown labels ignored."""
    index = {label: i for i, label in enumerate(labels)}
    y = np.zeros((len(label_sets), len(labels)), dtype=np.int64)
    for row, names in enumerate(label_sets):
        for name in names:
            if name in index:
                y[row, index[name]] = 1
    return y


def label_sets_of(data: LabeledTexts) -> tuple[tuple[str, ...], ...]:
    """Each row's labels; single-label data gives one label per row."""
    return data.label_sets if data.label_sets is not None else tuple((x,) for x in data.labels)


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
    return Metrics(
        accuracy=0.0 if empty else 1.0 - float(hamming_loss(y_true, y_pred)),
        f1=float(micro[2]),
        precision=float(micro[0]),
        recall=float(micro[1]),
        macro_f1=float(macro[2]),
        macro_precision=float(macro[0]),
        macro_recall=float(macro[1]),
        average="micro",
        positive_label=None,
        subset_accuracy=0.0 if empty else float(accuracy_score(y_true, y_pred)),
    )


def evaluate_multilabel(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]
) -> Evaluation:
    """Metrics and the per-label table (no confusion matrix: each label is its own yes/no)."""
    from sklearn.metrics import precision_recall_fscore_support

    from core.data.multilabel import join_labels

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    names = np.asarray(labels, dtype=object)

    def cells(y: np.ndarray) -> tuple[str, ...]:
        return tuple(join_labels(names[row.astype(bool)]) for row in y)

    return Evaluation(
        metrics=compute_multilabel_metrics(y_true, y_pred),
        labels=tuple(labels),
        per_class=tuple(
            ClassReport(lab, float(pi), float(ri), float(fi), int(si))
            for lab, pi, ri, fi, si in zip(labels, p, r, f, s, strict=True)
        ),
        n=len(y_true),
        intervals=multilabel_intervals(y_true, y_pred),
        # Each row's labels as one cell ("a|b"): the table of errors and the paired gain.
        y_true=cells(y_true),
        y_pred=cells(y_pred),
    )


def _row_counts(rows: np.ndarray, n: int) -> np.ndarray:
    """(draws, n): how often each row was drawn in each draw."""
    offsets = (np.arange(rows.shape[0], dtype=np.int64) * n)[:, None]
    return np.bincount((rows + offsets).ravel(), minlength=rows.shape[0] * n).reshape(-1, n)


def _drawn_scores(weights: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """The shown scores of each draw (rows weighted by how often they were drawn), as
    compute_multilabel_metrics computes them (zero_division=0)."""
    w = weights.astype(np.float64)
    truth, pred = y_true.astype(bool), y_pred.astype(bool)
    tp, fp, fn = w @ (truth & pred), w @ (~truth & pred), w @ (truth & ~pred)  # (draws, K)
    n, k = y_true.shape

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    micro_tp, micro_fp, micro_fn = tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)
    return {
        "accuracy": 1.0 - (w @ (truth != pred).sum(axis=1)) / (n * k),
        "f1": ratio(2 * micro_tp, 2 * micro_tp + micro_fp + micro_fn),
        "precision": ratio(micro_tp, micro_tp + micro_fp),
        "recall": ratio(micro_tp, micro_tp + micro_fn),
        # Over the labels present in the draw (true or predicted), as the point estimate.
        "macro_f1": ratio(2 * tp, 2 * tp + fp + fn).sum(axis=1)
        / np.maximum((tp + fp + fn > 0).sum(axis=1), 1),
        "subset_accuracy": (w @ (truth == pred).all(axis=1)) / n,
    }


def multilabel_intervals(
    y_true: np.ndarray, y_pred: np.ndarray, y_base: np.ndarray | None = None
) -> dict[str, tuple[float, float]]:
    """95 % bootstrap intervals of each score over the rows (0/1 matrices), as
    core.train.intervals draws them for single-label runs; with `y_base`, of the paired gain
    over it (the same rows drawn for both)."""
    from core.train.intervals import LEVEL, N_RESAMPLES, SEED, _draws, centred_intervals

    n = len(y_true)
    if not n:
        return {}

    def scores(weights: np.ndarray) -> dict[str, np.ndarray]:
        after = _drawn_scores(weights, y_true, y_pred)
        if y_base is None:
            return after
        before = _drawn_scores(weights, y_true, y_base)
        return {name: value - before[name] for name, value in after.items()}

    parts: dict[str, list[np.ndarray]] = {}
    for rows in _draws(n, N_RESAMPLES, SEED):
        for name, value in scores(_row_counts(rows, n)).items():
            parts.setdefault(name, []).append(value)
    return centred_intervals(parts, scores(np.ones((1, n), dtype=np.int64)), LEVEL)


def cell_gain_intervals(
    y_true: Sequence[str], y_pred: Sequence[str], y_base: Sequence[str], labels: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """The paired gain intervals of two multi-label evaluations kept as label cells ("a|b")."""
    from core.data.multilabel import split_cell

    def matrix(cells: Sequence[str]) -> np.ndarray:
        return indicator([split_cell(cell) for cell in cells], labels)

    return multilabel_intervals(matrix(y_true), matrix(y_pred), matrix(y_base))


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


def evaluate_multilabel_classifier(
    classifier: Classifier, test: LabeledTexts, unseen: Sequence[str] = ()
) -> Evaluation:
    """A multi-label classifier scored on labelled texts; `unseen` labels (the run never
    learnt them) are scored too: never predicted, each of their rows misses them."""
    labels = [*(str(c) for c in classifier.classes_), *unseen]
    predicted = indicator(classifier.predict_labels(test.texts), labels)
    return evaluate_multilabel(indicator(label_sets_of(test), labels), predicted, labels)


def label_gain_intervals(
    y_true: np.ndarray, y_pred: np.ndarray, y_base: np.ndarray, labels: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """Each label's paired-bootstrap interval of its F1 gain over `y_base` (0/1 matrices; the
    labels with true rows only)."""
    from core.train.intervals import LEVEL, N_RESAMPLES, SEED, _draws, _interval

    n = len(y_true)
    if not n:
        return {}
    truth = y_true.astype(bool)

    def label_f1(weights: np.ndarray, y: np.ndarray) -> np.ndarray:
        w, pred = weights.astype(np.float64), y.astype(bool)
        tp, fp, fn = w @ (truth & pred), w @ (~truth & pred), w @ (truth & ~pred)
        den = 2 * tp + fp + fn
        return np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)

    def gains(weights: np.ndarray) -> np.ndarray:
        return label_f1(weights, y_pred) - label_f1(weights, y_base)

    parts = [gains(_row_counts(rows, n)) for rows in _draws(n, N_RESAMPLES, SEED)]
    values, point = np.concatenate(parts), gains(np.ones((1, n), dtype=np.int64))[0]
    return {
        label: _interval(values[:, i], LEVEL, float(point[i]))
        for i, label in enumerate(labels)
        if truth[:, i].any()
    }


def cell_label_gain_intervals(
    y_true: Sequence[str], y_pred: Sequence[str], y_base: Sequence[str], labels: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """label_gain_intervals of two multi-label evaluations kept as label cells ("a|b")."""
    from core.data.multilabel import split_cell

    def matrix(cells: Sequence[str]) -> np.ndarray:
        return indicator([split_cell(cell) for cell in cells], labels)

    return label_gain_intervals(matrix(y_true), matrix(y_pred), matrix(y_base), labels)

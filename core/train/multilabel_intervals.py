"""Bootstrap intervals of multi-label scores (0/1 matrices of texts x labels), drawn as
core.train.intervals draws single-label rows: the scores, their paired gains, each label's F1
gain. No records here: core.train.multilabel and the task (core.train.task.MultiLabel) read
them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.train.intervals import bootstrap


def indicator(label_sets: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """A 0/1 matrix (texts x labels) of which labels each text carries; unknown labels ignored."""
    index = {label: i for i, label in enumerate(labels)}
    y = np.zeros((len(label_sets), len(labels)), dtype=np.int64)
    for row, names in enumerate(label_sets):
        for name in names:
            if name in index:
                y[row, index[name]] = 1
    return y


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
    n = len(y_true)

    def scores(rows: np.ndarray) -> dict[str, np.ndarray]:
        weights = _row_counts(rows, n)
        after = _drawn_scores(weights, y_true, y_pred)
        if y_base is None:
            return after
        before = _drawn_scores(weights, y_true, y_base)
        return {name: value - before[name] for name, value in after.items()}

    return bootstrap(scores, n)


def label_gain_intervals(
    y_true: np.ndarray, y_pred: np.ndarray, y_base: np.ndarray, labels: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """Each label's paired-bootstrap interval of its F1 gain over `y_base` (0/1 matrices; the
    labels with true rows only)."""
    n = len(y_true)
    truth = y_true.astype(bool)

    def label_f1(weights: np.ndarray, y: np.ndarray) -> np.ndarray:
        w, pred = weights.astype(np.float64), y.astype(bool)
        tp, fp, fn = w @ (truth & pred), w @ (~truth & pred), w @ (truth & ~pred)
        den = 2 * tp + fp + fn
        return np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)

    def gains(rows: np.ndarray) -> dict[str, np.ndarray]:
        weights = _row_counts(rows, n)
        gain = label_f1(weights, y_pred) - label_f1(weights, y_base)
        return {label: gain[:, i] for i, label in enumerate(labels) if truth[:, i].any()}

    return bootstrap(gains, n)

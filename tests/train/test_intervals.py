"""Bootstrap intervals: the scores match scikit-learn's, intervals hold the point estimate,
narrow with more rows, and the paired gain sees a real difference."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.train.intervals import gain_intervals, score_intervals, scores_from_confusions
from core.train.metrics import compute_metrics, evaluate_predictions
from core.train.task import gain_intervals as task_gains

LABELS = ["a", "b", "c"]


def noisy(n: int, accuracy: float, seed: int, labels=LABELS) -> tuple[list[str], list[str]]:
    """n true labels and predictions right with probability `accuracy`."""
    rng = np.random.default_rng(seed)
    truth = list(rng.choice(labels, size=n))
    pred = [t if rng.random() < accuracy else str(rng.choice(labels)) for t in truth]
    return truth, pred


@pytest.mark.parametrize("labels", [LABELS, ["neg", "pos"]])
def test_scores_from_a_confusion_matrix_are_scikit_learns(labels):
    from sklearn.metrics import confusion_matrix

    for seed in range(5):
        truth, pred = noisy(40, 0.6, seed, labels)
        pred[:3] = [labels[0]] * 3  # and a label that may never be predicted
        expected = compute_metrics(truth, pred, labels)
        cm = confusion_matrix(truth, pred, labels=labels)
        positive = labels.index(expected.positive_label) if expected.positive_label else None
        got = scores_from_confusions(cm, positive)
        for name in ("accuracy", "f1", "precision", "recall", "macro_f1"):
            assert got[name] == pytest.approx(getattr(expected, name)), name


def test_an_interval_holds_the_point_estimate_and_narrows_with_more_rows():
    widths = []
    for n in (50, 200, 2000):
        truth, pred = noisy(n, 0.7, seed=n)
        point = compute_metrics(truth, pred, LABELS)
        intervals = score_intervals(truth, pred, LABELS)
        for name in ("accuracy", "f1", "macro_f1"):
            low, high = intervals[name]
            assert low <= getattr(point, name) <= high
        widths.append(intervals["accuracy"][1] - intervals["accuracy"][0])
    assert widths[0] > widths[1] > widths[2]
    # About 1.96 standard errors each side for an accuracy: sqrt(.7 * .3 / 2000) * 3.92 = 0.040.
    assert widths[2] == pytest.approx(0.040, abs=0.008)


def test_intervals_are_fixed_by_the_seed():
    truth, pred = noisy(100, 0.7, seed=1)
    assert score_intervals(truth, pred, LABELS) == score_intervals(truth, pred, LABELS)
    assert score_intervals(truth, pred, LABELS, seed=1) != score_intervals(truth, pred, LABELS)


def test_a_perfect_model_has_a_point_interval():
    truth = ["a", "b", "c"] * 10
    assert score_intervals(truth, truth, LABELS)["macro_f1"] == (1.0, 1.0)


def test_the_paired_gain_is_above_zero_only_when_the_difference_is_real():
    truth, before = noisy(300, 0.6, seed=3)
    # Better: fixes 60 of the wrong predictions, on the same rows.
    wrong = [i for i, (t, p) in enumerate(zip(truth, before, strict=True)) if t != p]
    after = list(before)
    for i in wrong[:60]:
        after[i] = truth[i]
    low, high = gain_intervals(truth, after, before, LABELS)["accuracy"]
    assert 0 < low <= 60 / 300 <= high
    # Same predictions but two rows: a gain that is noise straddles zero.
    after = list(before)
    for i in wrong[:2]:
        after[i] = truth[i]
    low, high = gain_intervals(truth, after, before, LABELS)["accuracy"]
    assert low <= 0 < high


def test_an_evaluation_keeps_its_rows_and_names_labels_with_few_examples():
    truth = ["a"] * 20 + ["b"] * 20 + ["c"] * 3
    pred = list(truth)
    pred[0] = "b"
    evaluation = evaluate_predictions(truth, pred, LABELS, confidence=[0.9] * len(truth))
    assert evaluation.y_pred == tuple(pred) and len(evaluation.confidence) == 43
    assert evaluation.few_examples() == ["c"]
    low, high = evaluation.intervals["macro_f1"]
    assert low <= evaluation.metrics.macro_f1 <= high
    baseline = evaluate_predictions(truth, ["a"] * 43, LABELS)
    assert task_gains(evaluation, baseline)["macro_f1"][0] > 0
    # A run stored before the rows were kept has no gain interval rather than a wrong one.
    assert task_gains(evaluation, dataclasses.replace(baseline, y_true=(), y_pred=())) == {}


# ----------------------------------------------------------------------------- many labels


def few_rows_per_label(k: int, rows: int, accuracy: float, seed: int, spread: int | None = None):
    """`rows` true rows of each of k labels; a wrong prediction goes to one of `spread` other
    labels (None: any label), as a confusable neighbour would."""
    rng = np.random.default_rng(seed)
    labels = [f"intent_{i:03d}" for i in range(k)]
    truth, pred = [], []
    for i, label in enumerate(labels):
        for _ in range(rows):
            truth.append(label)
            if rng.random() < accuracy:
                pred.append(label)
            else:
                width = k if spread is None else spread
                pred.append(labels[(i + 1 + int(rng.integers(width))) % k])
    return labels, truth, pred


def test_the_interval_of_77_labels_with_2_rows_each_holds_scikit_learns_score():
    """The issue's case: macro-F1 0.806 had the interval (0.613, 0.759), every label absent
    from a draw having been counted as 0."""
    from sklearn.metrics import f1_score

    labels, truth, pred = few_rows_per_label(77, 2, 0.82, seed=0, spread=3)
    point = f1_score(truth, pred, average="macro")
    low, high = score_intervals(truth, pred, labels)["f1"]
    assert low <= point <= high
    assert compute_metrics(truth, pred, labels).f1 == pytest.approx(point)


def test_macro_scores_average_over_the_labels_present():
    """A label neither in the truth nor predicted (a test file without it) has no score."""
    from sklearn.metrics import f1_score

    truth, pred = ["a", "a", "b", "b"], ["a", "b", "b", "b"]
    metrics = compute_metrics(truth, pred, ["a", "b", "c", "d"])
    assert metrics.macro_f1 == pytest.approx(f1_score(truth, pred, average="macro"))


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(2, 200),
    rows=st.integers(1, 50),
    accuracy=st.floats(0.0, 1.0),
    spread=st.sampled_from([1, 3, None]),
    seed=st.integers(0, 2**16),
)
def test_every_interval_holds_its_point_estimate(k, rows, accuracy, spread, seed):
    rows = min(rows, 4000 // k)  # 200 labels x 20 rows at most: a second per example
    labels, truth, pred = few_rows_per_label(k, max(rows, 1), accuracy, seed, spread)
    point = compute_metrics(truth, pred, labels)
    positive = point.positive_label  # two labels: the scores of the positive one
    intervals = score_intervals(truth, pred, labels, positive, n_resamples=300)
    for name, (low, high) in intervals.items():
        assert low - 1e-9 <= getattr(point, name) <= high + 1e-9, name
    # The paired gain over another model holds the measured gain.
    _, _, other = few_rows_per_label(k, max(rows, 1), accuracy / 2, seed + 1, spread)
    gain = compute_metrics(truth, pred, labels).gain_over(compute_metrics(truth, other, labels))
    intervals = gain_intervals(truth, pred, other, labels, positive, n_resamples=300)
    for name, value in gain.items():
        low, high = intervals[name]
        assert low - 1e-9 <= value <= high + 1e-9, name

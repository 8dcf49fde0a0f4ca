"""Bootstrap intervals: the scores match scikit-learn's, intervals hold the point estimate,
narrow with more rows, and the paired gain sees a real difference."""

import dataclasses

import numpy as np
import pytest

from core.train.intervals import gain_intervals, score_intervals, scores_from_confusions
from core.train.metrics import compute_metrics, evaluate_predictions

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
    assert evaluation.gain_intervals(baseline)["macro_f1"][0] > 0
    # A run stored before the rows were kept has no gain interval rather than a wrong one.
    assert evaluation.gain_intervals(dataclasses.replace(baseline, y_true=(), y_pred=())) == {}

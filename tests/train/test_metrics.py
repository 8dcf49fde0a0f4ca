"""Metrics against values computed by hand."""

from __future__ import annotations

import pytest

from core.train.metrics import compute_metrics, evaluate_predictions, positive_label


def test_multiclass_metrics_are_macro_averaged_and_match_hand_computed_values():
    y_true = ["a", "a", "b", "b", "c"]
    y_pred = ["a", "b", "b", "b", "c"]
    m = compute_metrics(y_true, y_pred, ["a", "b", "c"])
    # per class: a P=1 R=1/2 F=2/3; b P=2/3 R=1 F=4/5; c P=1 R=1 F=1
    assert m.accuracy == pytest.approx(4 / 5)
    assert m.precision == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert m.recall == pytest.approx((1 / 2 + 1 + 1) / 3)
    assert m.f1 == pytest.approx((2 / 3 + 4 / 5 + 1) / 3)
    assert m.macro_f1 == m.f1
    assert m.average == "macro"
    assert m.positive_label is None


def test_binary_metrics_are_those_of_the_positive_label_with_macro_alongside():
    y_true = ["0", "0", "0", "1", "1"]
    y_pred = ["0", "1", "0", "1", "0"]
    m = compute_metrics(y_true, y_pred, ["0", "1"])
    # positive "1": TP=1 FP=1 FN=1 -> P=R=F=1/2; "0": TP=2 FP=1 FN=1 -> P=R=F=2/3
    assert m.positive_label == "1"
    assert m.average == "binary"
    assert (m.precision, m.recall, m.f1) == pytest.approx((0.5, 0.5, 0.5))
    assert m.macro_f1 == pytest.approx((0.5 + 2 / 3) / 2)
    assert m.accuracy == pytest.approx(3 / 5)


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (("0", "1"), "1"),
        (("ham", "spam"), "spam"),
        (("neg", "pos"), "pos"),
        (("positive", "negative"), "positive"),
        (("cat", "dog"), "dog"),
        (("a", "b", "c"), None),
    ],
)
def test_positive_label(classes, expected):
    assert positive_label(classes) == expected


def test_evaluation_has_per_class_report_and_confusion_matrix_and_round_trips():
    y_true = ["a", "a", "b", "b", "c"]
    y_pred = ["a", "b", "b", "b", "c"]
    evaluation = evaluate_predictions(y_true, y_pred, ["a", "b", "c"])
    assert evaluation.confusion_matrix == ((1, 1, 0), (0, 2, 0), (0, 0, 1))
    assert [c.support for c in evaluation.per_class] == [2, 2, 1]
    assert evaluation.per_class[1].precision == pytest.approx(2 / 3)
    assert type(evaluation).from_dict(evaluation.to_dict()) == evaluation


def test_gain_over_baseline():
    base = compute_metrics(["a", "b"], ["a", "a"], ["a", "b"])
    better = compute_metrics(["a", "b"], ["a", "b"], ["a", "b"])
    assert better.gain_over(base)["accuracy"] == pytest.approx(0.5)

"""Multi-label metrics, per-label thresholds, and the loss of the multi-label finetune."""

from __future__ import annotations

import numpy as np
import pytest

from core.train.multilabel import (
    THRESHOLD_GRID,
    choose_thresholds,
    compute_multilabel_metrics,
    evaluate_multilabel,
)
from core.train.multilabel_intervals import indicator

Y_TRUE = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
Y_PRED = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]])


def test_the_scores_are_scikit_learns():
    from sklearn.metrics import f1_score

    m = compute_multilabel_metrics(Y_TRUE, Y_PRED)
    assert m.average == "micro" and m.positive_label is None
    assert m.accuracy == pytest.approx(1 - 3 / 12)  # Hamming: 3 of 12 cells wrong
    assert m.subset_accuracy == pytest.approx(2 / 4)  # rows 2 and 4 exactly right
    assert m.precision == pytest.approx(3 / 4) and m.recall == pytest.approx(3 / 5)
    assert m.f1 == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="micro"))
    assert m.macro_f1 == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0))


def test_the_per_label_table():
    evaluation = evaluate_multilabel(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert [c.label for c in evaluation.per_class] == ["a", "b", "c"]
    assert [c.support for c in evaluation.per_class] == [2, 2, 1]
    assert evaluation.per_class[0].f1 == 1.0 and evaluation.per_class[2].f1 == 0.0
    assert evaluation.n == 4 and evaluation.confusion_matrix == ()
    assert type(evaluation).from_dict(evaluation.to_dict()) == evaluation


def test_indicator_ignores_unknown_labels():
    y = indicator([("a", "c"), (), ("z",)], ["a", "b", "c"])
    assert y.tolist() == [[1, 0, 1], [0, 0, 0], [0, 0, 0]]


def test_each_label_gets_the_threshold_with_its_best_validation_f1():
    probabilities = np.array([[0.30, 0.9], [0.25, 0.8], [0.10, 0.7], [0.05, 0.2]])
    truth = np.array([[1, 1], [1, 0], [0, 0], [0, 0]])
    thresholds = choose_thresholds(np.c_[probabilities, np.zeros(4)], np.c_[truth, np.zeros(4)])
    assert 0.10 < thresholds[0] <= 0.25  # both positives above, the negatives below
    assert 0.8 < thresholds[1] <= 0.9
    assert thresholds[2] == 0.5  # no positive in validation: the default
    assert set(thresholds[:2]) <= set(THRESHOLD_GRID)


def test_the_sigmoid_loss_starts_from_the_probe(small_model):
    import copy

    import torch

    from core.train.losses import SigmoidClassificationLoss

    model = copy.deepcopy(small_model)
    weight, bias = torch.randn(3, 384), torch.tensor([0.1, -0.2, 0.3])
    loss = SigmoidClassificationLoss(model, 3, weight=weight, bias=bias)
    assert torch.equal(loss.classifier.weight, weight) and torch.equal(loss.classifier.bias, bias)
    features = model.tokenize(["the soup was too salty", "she scored twice"])
    value = loss([features], torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert value.ndim == 0 and value.item() > 0
    value.backward()
    assert loss.classifier.weight.grad is not None


def test_bootstrap_intervals_of_multi_label_scores():
    from core.train.multilabel_intervals import _drawn_scores, multilabel_intervals

    # One draw of every row once: the scores themselves.
    once = _drawn_scores(np.ones((1, len(Y_TRUE)), dtype=np.int64), Y_TRUE, Y_PRED)
    m = compute_multilabel_metrics(Y_TRUE, Y_PRED)
    for name in ("accuracy", "f1", "precision", "recall", "macro_f1", "subset_accuracy"):
        assert once[name][0] == pytest.approx(getattr(m, name)), name
    rng = np.random.default_rng(0)
    y_true = (rng.random((200, 4)) < 0.3).astype(int)
    y_pred = np.where(rng.random((200, 4)) < 0.8, y_true, 1 - y_true)
    intervals = multilabel_intervals(y_true, y_pred)
    point = compute_multilabel_metrics(y_true, y_pred)
    for name, (low, high) in intervals.items():
        assert low <= getattr(point, name) <= high and high - low < 0.3, name
    same = multilabel_intervals(y_true, y_pred, y_pred)
    assert all(interval == (0.0, 0.0) for interval in same.values())


def test_a_multi_label_evaluation_keeps_each_rows_labels_as_a_tuple():
    from core.train.task import gain_intervals, labels_clearly_worse

    evaluation = evaluate_multilabel(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert evaluation.y_true == (("a", "c"), ("b",), ("a", "b"), ())
    assert evaluation.y_pred == (("a",), ("b",), ("a", "c"), ())
    assert set(evaluation.intervals) >= {"accuracy", "f1", "macro_f1", "subset_accuracy"}
    assert gain_intervals(evaluation, evaluation)["f1"] == (0.0, 0.0)
    assert labels_clearly_worse(evaluation, evaluation) == []
    # Through JSON and back (run.json): the tuples come back as tuples.
    assert type(evaluation).from_dict(evaluation.to_dict()) == evaluation


def test_a_multi_label_evaluation_kept_with_label_cells_reads_as_tuples():
    """Runs before 2026-12-05 kept each multi-label row's labels as one cell ("a|c")."""
    evaluation = evaluate_multilabel(Y_TRUE, Y_PRED, ["a", "b", "c"])
    stored = evaluation.to_dict() | {
        "y_true": ["a|c", "b", "a|b", ""],
        "y_pred": ["a", "b", "a|c", ""],
    }
    assert type(evaluation).from_dict(stored) == evaluation


@pytest.mark.slow
@pytest.mark.parametrize("label_names", [True, False])
def test_the_multi_label_finetune_trains_on_the_label_names_as_rows(tmp_path, label_names):
    from core.data.labeled import split
    from core.data.multilabel import from_label_sets
    from core.model.catalogue import autocast
    from core.model.heads import encode, fit_multilabel_head
    from core.train.recipe import train
    from tests.helpers import tiny_config, tiny_multilabel_rows

    rows = tiny_multilabel_rows()
    data = split(from_label_sets([t for t, _ in rows], [s for _, s in rows]), seed=0)
    config = tiny_config(label_names=label_names, early_stopping_patience=0)
    result = train(config, data, tmp_path)
    names = ["food", "sport", "tech"] if label_names else []  # the labels are words
    y = np.vstack(
        [
            indicator(data.train.label_sets, result.labels),
            indicator([(name,) for name in names], result.labels),
            indicator(data.valid.label_sets, result.labels),
        ]
    )
    # The served heads learned from the training rows, the names' rows and the validation rows,
    # encoded as the recipe's head phase encodes them (at the run's precision: bf16 on such CPUs).
    # Training rows with the names, then validation rows (under bf16 an embedding moves by ~1e-4
    # with its batch's padding).
    with autocast(result.device):
        embeddings = np.vstack(
            [
                encode(result.model, [*data.train.texts, *names]),
                encode(result.model, list(data.valid.texts)),
            ]
        )
    expected = fit_multilabel_head(embeddings, y, config)
    np.testing.assert_allclose(result.head.coef_, expected.coef_, atol=1e-6)

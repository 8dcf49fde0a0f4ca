"""The outcome of a run: a gain above the noise, a change within it, or the base model kept."""

import pytest

from core.train.metrics import evaluate_predictions
from core.train.outcome import GAIN, KEPT_BASE, UNCLEAR, judge
from core.train.task import labels_clearly_worse, scored_task

LABELS = ["a", "b", "c"]
TRUTH = [LABELS[i % 3] for i in range(300)]
WRONG = [LABELS[(i + 1) % 3] for i in range(300)]


def predictions(wrong_rows: range) -> list[str]:
    return [WRONG[i] if i in wrong_rows else TRUTH[i] for i in range(300)]


def test_a_clear_gain_has_its_interval_above_zero():
    before = evaluate_predictions(TRUTH, predictions(range(0, 90)), LABELS)
    after = evaluate_predictions(TRUTH, predictions(range(0, 10)), LABELS)
    outcome = judge(after, before)
    assert outcome.kind == GAIN and outcome.clear_gain
    assert outcome.interval[0] > 0 and outcome.gain == pytest.approx(
        after.metrics.f1 - before.metrics.f1
    )
    assert outcome.message.startswith("macro-F1 rose from ")
    assert "on the same 300 validation texts" in outcome.message


def test_a_change_within_the_noise_says_so_and_what_would_tell():
    before = evaluate_predictions(TRUTH, predictions(range(290, 297)), LABELS)
    after = evaluate_predictions(TRUTH, predictions(range(295, 300)), LABELS)
    outcome = judge(after, before, where="test")
    assert outcome.kind == UNCLEAR and not outcome.clear_gain
    assert outcome.interval[0] <= 0 < outcome.interval[1]
    assert "includes zero" in outcome.message and "300 test texts" in outcome.message


def test_a_run_that_kept_its_base_model_is_never_celebrated():
    before = evaluate_predictions(TRUTH, predictions(range(0, 10)), LABELS)
    outcome = judge(before, before, finetune_kept=False)
    assert outcome.kind == KEPT_BASE and "kept the base model" in outcome.message


def test_the_headline_f1_is_named_for_two_labels():
    truth = ["ham", "spam"] * 20
    evaluation = evaluate_predictions(truth, truth, ["ham", "spam"])
    assert scored_task(evaluation).f1_name(evaluation.metrics) == "F1 of the label 'spam'"
    macro = evaluate_predictions(TRUTH, TRUTH, LABELS).metrics
    assert scored_task(macro).f1_name(macro) == "macro-F1"


def test_a_headline_gain_with_a_label_that_fell_clearly_is_not_celebrated_and_names_it():
    """Many labels got better, one clearly worse: the message names it with its F1s."""
    labels = [f"intent_{i}" for i in range(10)]
    truth = [labels[i % 10] for i in range(600)]
    # The base model gets labels 1-9 wrong on half their rows; the finetune gets them right
    # but loses intent_0 entirely.
    base = [labels[1] if (i % 10 and i % 20 < 10) else t for i, t in enumerate(truth)]
    tuned = [labels[1] if t == labels[0] else t for t in truth]
    before = evaluate_predictions(truth, base, labels)
    after = evaluate_predictions(truth, tuned, labels)
    assert labels_clearly_worse(after, before) == [("intent_0", 1.0, 0.0)]
    outcome = judge(after, before)
    assert outcome.interval[0] > 0 and outcome.kind == UNCLEAR and not outcome.clear_gain
    assert "1 label got clearly worse: intent_0 (F1 1.000 -> 0.000)." in outcome.message


def test_a_multi_label_outcome_shows_macro_f1_beside_the_headline():
    import numpy as np

    from core.train.multilabel import evaluate_multilabel

    rng = np.random.default_rng(0)
    y_true = (rng.random((400, 4)) < 0.3).astype(int)
    base = np.where(rng.random((400, 4)) < 0.7, y_true, 1 - y_true)
    tuned = y_true.copy()
    tuned[:, 3] = 0  # the rare fourth label is never predicted any more
    before = evaluate_multilabel(y_true, base, ["a", "b", "c", "d"])
    after = evaluate_multilabel(y_true, tuned, ["a", "b", "c", "d"])
    outcome = judge(after, before)
    assert outcome.message.startswith("micro-F1 rose from ")
    assert " Macro-F1 went from " in outcome.message
    assert "got clearly worse: d (F1 " in outcome.message and not outcome.clear_gain

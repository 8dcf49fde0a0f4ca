"""The outcome of a run: a gain above the noise, a change within it, or the base model kept."""

import pytest

from core.train.metrics import evaluate_predictions
from core.train.outcome import GAIN, KEPT_BASE, UNCLEAR, f1_name, judge

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
    assert f1_name(evaluation) == "F1 of the label 'spam'"
    assert f1_name(evaluate_predictions(TRUTH, TRUTH, LABELS)) == "macro-F1"

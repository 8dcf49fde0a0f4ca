"""A run scored on a test file: labels it never learnt are scored (as errors, or left out by
choice), and the same rows scored again give back the kept result."""

import pytest

from core.data.labeled import LabeledTexts
from core.errors import DataError
from core.runs import evaluate as run_evaluation
from core.runs.evaluate import evaluate_run

pytestmark = pytest.mark.slow

ROWS = [
    ("a spicy curry with rice", "food"),
    ("the striker scored twice", "sport"),
    ("a yacht race around the island", "sailing"),
    ("a new laptop with a fast chip", "tech"),
    ("the regatta was cancelled", "sailing"),
    ("crossing the channel by dinghy", "rowing"),
]


def test_rows_of_labels_the_run_never_learnt_count_as_errors(run_copy):
    store, run_id = run_copy.store, run_copy.run_id
    test = LabeledTexts.from_pairs(ROWS, name="holdout.csv")
    result = evaluate_run(store, run_id, test)
    final = result.final
    assert final.unseen_labels == ("rowing", "sailing") and final.skipped == 0
    assert final.n == 6 and set(final.labels) >= {"rowing", "sailing"}
    # The model cannot predict them: their three rows are errors, for both models.
    assert sum(t != p for t, p in zip(final.y_true, final.y_pred, strict=True)) >= 3
    assert {c.label: c.recall for c in final.per_class}["sailing"] == 0.0
    assert result.baseline.unseen_labels == ("rowing", "sailing")
    low, high = final.intervals["f1"]
    assert low <= final.metrics.f1 <= high


def test_rows_of_unseen_labels_can_be_left_out(run_copy):
    store, run_id = run_copy.store, run_copy.run_id
    test = LabeledTexts.from_pairs(ROWS, name="holdout.csv")
    result = evaluate_run(store, run_id, test, unseen="skip")
    assert result.final.n == 3 and result.final.skipped == 3
    assert result.key == run_evaluation.test_key(test, "skip") != run_evaluation.test_key(test)
    only_unseen = LabeledTexts.from_pairs([r for r in ROWS if r[1] in ("sailing", "rowing")])
    with pytest.raises(DataError) as caught:
        evaluate_run(store, run_id, only_unseen, unseen="skip")
    assert str(caught.value) == (
        "every row of the test file has a label the run never learnt (2 labels the run never "
        "learnt: 'rowing' (1 row), 'sailing' (2 rows))"
    )


def test_the_same_rows_again_give_back_the_kept_result(run_copy):
    store, run_id = run_copy.store, run_copy.run_id
    test = LabeledTexts.from_pairs(ROWS[:2] + ROWS[3:4], name="holdout.csv")
    first = evaluate_run(store, run_id, test)
    again = evaluate_run(store, run_id, test)
    assert again.evaluated_at == first.evaluated_at and again.final == first.final
    fresh = evaluate_run(store, run_id, test, reuse=False)
    assert fresh.final.metrics == first.final.metrics


def test_the_test_file_baseline_is_the_runs_own_validation_baseline(run_copy):
    """One rule scores the base model: fitted as the run's baseline was (label names included),
    it gives the run's validation baseline back on the validation rows. The served head also
    learns from the validation rows (refit_head_on_all), so that setting is off here."""
    from core.runs.evaluate import base_classifier, evaluate_classifier

    store, run_id = run_copy.store, run_copy.run_id
    store.modify(run_id, lambda r: r.replace(config=r.config.replace(refit_head_on_all=False)))
    record = store.get(run_id)
    valid = store.load_dataset(run_id).valid
    scored = evaluate_classifier(base_classifier(record, store), valid)
    assert scored.y_pred == record.baseline.y_pred
    assert scored.metrics == record.baseline.metrics

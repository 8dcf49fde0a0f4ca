"""Tests for core.quality.review: each figure and finding on hand-made data with known answers."""

from __future__ import annotations

import json

import pytest

from core.data.cleaning import CleaningConfig, TextChange
from core.data.labeled import LabeledTexts, split
from core.quality.review import (
    Conflict,
    DuplicateGroup,
    Finding,
    Leak,
    Review,
    droppable_rows,
    review,
    token_stats,
)
from core.quality.validation import thin_dataset_message

MAX_TOKENS = 256


def labelled(counts: dict[str, int]) -> LabeledTexts:
    """Distinct texts, `counts[label]` of each label, labels interleaved in file order."""
    pairs = [(f"{label} example {i}", label) for label, n in counts.items() for i in range(n)]
    pairs.sort(key=lambda pair: int(pair[0].rsplit(" ", 1)[1]))
    return LabeledTexts.from_pairs(pairs)


def rows(texts_labels: list[tuple[str, str]]) -> LabeledTexts:
    return LabeledTexts.from_pairs(texts_labels)


def round_trip(result: Review) -> Review:
    return Review.from_dict(json.loads(json.dumps(result.to_dict())))


# ----------------------------------------------------------------------------- counts


def test_counts_with_a_validation_file():
    train = rows([("a1", "a"), ("b1", "b"), ("a2", "a"), ("a3", "a"), ("b2", "b"), ("a4", "a")])
    valid = rows([("a5", "a"), ("b3", "b"), ("a6", "a")])
    result = review(train, valid)
    assert (result.train_rows, result.valid_rows) == (6, 3)
    assert (result.valid_source, result.valid_fraction) == ("file", None)
    assert result.classes == ("a", "b") and result.num_classes == 2
    assert result.train_counts == {"a": 4, "b": 2}
    assert result.valid_counts == {"a": 2, "b": 1}
    assert result.imbalance_ratio == 2.0
    assert result.train_tokens is None and result.valid_tokens is None
    assert result.ok
    assert round_trip(result) == result


def test_counts_of_an_automatic_split_match_the_split():
    data = labelled({"a": 50, "b": 30, "c": 20})
    result = review(data, valid_fraction=0.2)
    made = split(data, valid_fraction=0.2, seed=7)
    assert (result.valid_source, result.valid_fraction) == ("split", 0.2)
    assert result.train_counts == made.train.class_counts() == {"a": 40, "b": 24, "c": 16}
    assert result.valid_counts == made.valid.class_counts() == {"a": 10, "b": 6, "c": 4}
    assert (result.train_rows, result.valid_rows) == (80, 20)


def test_numeric_labels_in_numeric_order():
    result = review(labelled({"10": 3, "2": 3, "1": 3}))
    assert result.classes == ("1", "2", "10")
    assert list(result.train_counts) == ["1", "2", "10"]


# ----------------------------------------------------------------------------- guidance


def test_too_few_examples():
    result = review(labelled({"a": 125, "b": 124}))
    assert result.finding("too_few_examples") == Finding(
        "too_few_examples",
        "warning",
        "only 249 labelled training examples: at least 250 are needed for a reliable finetune "
        "and 500+ are recommended; you can train, but expect weak and unstable results",
    )
    assert "below_recommended" not in result.codes()
    assert result.ok  # allowed, with a warning


def test_below_recommended():
    result = review(labelled({"a": 125, "b": 125}))
    finding = result.finding("below_recommended")
    assert finding is not None and finding.severity == "info"
    assert finding.message == (
        "250 labelled training examples: enough to train, but 500+ usually give clearly better "
        "and more stable results"
    )
    assert "too_few_examples" not in result.codes()


def test_enough_examples():
    codes = review(labelled({"a": 250, "b": 250})).codes()
    assert not codes & {"too_few_examples", "below_recommended"}


def test_rare_labels():
    data = labelled({"a": 20, "b": 4, "c": 1})
    finding = review(data).finding("rare_labels")
    # With an automatic split the message says what each side gets.
    assert finding.message == (
        "2 labels have fewer than 5 examples: 'b' (4: 3 training, 1 validation), "
        "'c' (1: 1 training, 0 validation); the model can hardly learn them and their scores "
        "mean little: add examples or drop these labels"
    )
    expected = tuple(r for r, lab in zip(data.rows, data.labels, strict=True) if lab in "bc")
    assert finding.rows == expected and len(expected) == 5
    assert finding.severity == "warning"
    assert "rare_labels" not in review(labelled({"a": 5, "b": 5})).codes()


def test_imbalance_ratio_and_threshold():
    at_threshold = review(labelled({"a": 30, "b": 10}))
    assert at_threshold.imbalance_ratio == 3.0
    assert "imbalance" not in at_threshold.codes()
    over = review(labelled({"a": 31, "b": 10, "c": 20}))
    assert over.imbalance_ratio == pytest.approx(3.1)
    assert over.finding("imbalance").message == (
        "the labels are imbalanced: 'a' has 31 examples, 'b' 10 (3.1 to 1); above 3 to 1 a "
        "classifier tends to favour the large labels and accuracy hides it: add examples of the "
        "small labels or drop some of the large ones, and watch macro-F1"
    )


def test_too_few_labels_is_an_error():
    result = review(rows([("x", "a"), ("y", "a"), ("z", "")]))
    assert result.finding("too_few_labels").message == (
        "the training data has only one label ('a'): a classifier needs at least 2 labels"
    )
    assert not result.ok


# ----------------------------------------------------------------------------- tokens


def test_token_stats_and_truncation_with_the_real_tokenizer(small_tokenizer):
    train = rows(
        [
            ("hello world", "a"),  # [CLS] hello world [SEP] = 4
            ("hello hello world", "b"),  # 5
            (" ".join(["word"] * 254), "a"),  # 256: exactly the limit, not cut
            (" ".join(["word"] * 300), "b"),  # 302: cut
        ]
    )
    valid = rows([(" ".join(["word"] * 255), "a"), ("hello", "b")])  # 257: cut; 3
    result = review(train, valid, tokenizer=small_tokenizer, max_tokens=MAX_TOKENS)
    stats = result.train_tokens
    assert (stats.mean, stats.median, stats.max) == (141.75, 130.5, 302)
    assert stats.p95 == pytest.approx(256 + 0.85 * 46)
    assert (stats.max_tokens, stats.truncated_rows, stats.truncated) == (256, (4,), 1)
    assert result.valid_tokens.truncated_rows == (1,)
    assert result.finding("truncated").message == (
        "1 texts are longer than the base model's 256 tokens (row 4): only their beginning is "
        "used, at training and at prediction"
    )
    assert result.finding("truncated", "valid").rows == (1,)
    assert round_trip(result) == result
    assert "tokens (training): mean 141.8, median 130, p95 295, max 302, 1 over 256" in (
        result.to_text()
    )


def test_token_stats_tokenize_in_bounded_batches(small_tokenizer):
    sizes = []

    def recording_tokenizer(texts, **kwargs):
        sizes.append(len(texts))
        return small_tokenizer(texts, **kwargs)

    data = rows([(f"text {i}", "ab"[i % 2]) for i in range(2500)])
    stats = token_stats(data, recording_tokenizer, max_tokens=None)
    assert sizes == [1000, 1000, 500]
    assert (stats.max, stats.truncated_rows) == (5, ())  # "text 1234" = text 123 ##4


# ----------------------------------------------------------------------------- row problems


def test_empty_texts_and_labels_are_errors():
    train = rows([("a", "x"), ("", "y"), ("c", ""), ("d", "y"), ("", "x")])
    result = review(train)
    assert result.finding("empty_text") == Finding(
        "empty_text",
        "error",
        "2 empty texts (rows 2, 5): drop them or fill them in",
        (2, 5),
        "train",
    )
    assert result.finding("empty_label").message == (
        "1 row without a label (row 3): drop them or label them"
    )
    assert not result.ok


def test_duplicates_and_conflicting_labels():
    train = rows([("x", "a"), ("y", "b"), ("x", "a"), ("x", "a"), ("y", "a"), ("z", "b")])
    result = review(train)
    assert result.duplicates == (DuplicateGroup("train", "x", "a", (1, 3, 4)),)
    assert result.finding("duplicates").rows == (3, 4)  # the first copy is kept
    assert result.finding("duplicates").message == (
        "2 rows repeat an earlier row's text and label (rows 3, 4): an automatic split can put "
        "copies on both sides and flatter the validation score; drop the copies (the first is "
        "kept)"
    )
    assert result.conflicts == (Conflict("train", "y", (2, 5), ("b", "a")),)
    assert result.finding("conflicting_labels").message == (
        "1 text has more than one label, e.g. 'y' is 'a' and 'b' (rows 2, 5): the model cannot "
        "be right on both; fix the labels or drop these rows"
    )
    assert result.ok  # warnings only
    assert round_trip(result) == result


def test_leakage_between_training_and_validation_files():
    train = rows([("p", "a"), ("q", "b"), ("q", "b")])
    valid = rows([("q", "b"), ("r", "a"), ("q", "b"), ("p", "b")])
    result = review(train, valid)
    assert result.leakage == (Leak("q", (2, 3), (1, 3)), Leak("p", (1,), (4,)))
    finding = result.finding("leakage", "valid")
    assert finding.rows == (1, 3, 4)
    assert finding.message == (
        "2 validation texts also appear in the training data (validation rows 1, 3, 4): the "
        "validation score will look better than it is; drop them from the validation set"
    )
    # Duplicates inside the validation file are reported for it, with the reason that fits.
    assert result.finding("duplicates", "valid").rows == (3,)
    assert "they weigh those texts more" in result.finding("duplicates", "valid").message


def test_validation_labels_unknown_or_missing():
    train = rows([("a1", "a"), ("b1", "b"), ("c1", "c")])
    valid = rows([("a2", "a"), ("z1", "z"), ("z2", "z")])
    result = review(train, valid)
    assert result.valid_counts == {"a": 1, "b": 0, "c": 0, "z": 2}
    assert result.finding("unknown_labels", "valid") == Finding(
        "unknown_labels",
        "error",
        "validation labels not in the training data: 'z' (rows 2, 3): the model cannot learn "
        "them; add training examples or drop those rows",
        (2, 3),
        "valid",
    )
    assert result.finding("missing_in_valid", "valid").message == (
        "2 labels have no validation examples: 'b', 'c'; their scores cannot be measured"
    )
    assert not result.ok


# ----------------------------------------------------------------------------- the validation split


def test_many_labels_of_few_rows_get_the_share_asked_for_and_a_thin_validation_warning():
    # Issue 26's support inbox: 616 tickets, 77 intents of 8. The split holds out 123 (20 %),
    # and the review no longer says "no problems found".
    result = review(labelled({f"intent {i:02}": 8 for i in range(77)}), valid_fraction=0.2)
    assert (result.train_rows, result.valid_rows) == (493, 123)
    assert sorted(set(result.valid_counts.values())) == [1, 2]
    assert "split_share" not in result.codes()  # 123 is what was asked for
    assert result.finding("thin_validation", "valid") == Finding(
        "thin_validation",
        "warning",
        "all 77 labels have fewer than 5 validation rows (median 2 per label, minimum 1): the "
        "choice of checkpoint and every validation figure rest on 123 texts, those labels' "
        "scores on fewer than 5 texts each; add rows, or give a validation file with 5+ rows "
        "per label, and score a test file after training (on the Metrics page or with core "
        "evaluate)",
        (),
        "valid",
    )
    assert "no problems found" not in result.to_text()
    assert "warning (validation): all 77 labels have fewer than 5" in result.to_text()
    assert result.ok  # a warning: training is allowed


def test_the_split_says_why_it_takes_another_share():
    # 150 labels of 3 rows: 90 rows asked for, 150 needed (one per label).
    more = review(labelled({f"l{i:03}": 3 for i in range(150)}), valid_fraction=0.2)
    assert (more.train_rows, more.valid_rows) == (300, 150)
    assert more.finding("split_share", "valid") == Finding(
        "split_share",
        "info",
        "the automatic split holds out 150 of 450 rows (33%), more than the 20% asked for (90 "
        "rows): each label with 2 rows or more keeps at least 1 for validation, and 150 labels "
        "have fewer than 5 rows, too few for 20% of them to make a row; to validate on the "
        "share you chose, give a validation file",
        (),
        "valid",
    )
    thin = more.finding("thin_validation", "valid")
    assert thin.message.startswith(
        "all 150 labels have fewer than 5 validation rows (median 1 per label, minimum 1)"
    )
    # Fewer than asked: single rows stay in training, and every label keeps one there.
    fewer = review(labelled({"a": 2, "b": 1, "c": 1, "d": 1, "e": 1}), valid_fraction=0.5)
    assert fewer.valid_rows == 1
    assert fewer.finding("split_share", "valid").message == (
        "the automatic split holds out 1 of 6 rows (17%), fewer than the 50% asked for (3 "
        "rows): each label keeps at least 1 row for training, and 4 labels have a single row, "
        "which stays in training"
    )


def test_thin_validation_counts_a_validation_file_too_and_not_enough_rows_only():
    train = labelled({"a": 30, "b": 30, "c": 30})
    valid = labelled({"a": 6, "b": 3, "c": 5})
    message = review(train, valid).finding("thin_validation", "valid").message
    assert message.startswith(
        "1 of 3 labels has fewer than 5 validation rows (median 5 per label, minimum 3): the "
        "choice of checkpoint and every validation figure rest on 14 texts, that label's scores"
    )
    assert "add rows to the validation file with 5+ rows per label" in message
    # 5 validation rows of every label: nothing to say.
    assert "thin_validation" not in review(train, labelled({"a": 5, "b": 5, "c": 5})).codes()
    assert "thin_validation" not in review(labelled({"a": 25, "b": 25})).codes()
    # `core train` says the same of the data set it trains on.
    data = labelled({f"intent {i:02}": 8 for i in range(77)})
    made = split(data, valid_fraction=0.2, seed=42)
    assert thin_dataset_message(made) == review(data).finding("thin_validation", "valid").message


# ----------------------------------------------------------------------------- cleaning


def test_review_with_cleaning_reports_changes_and_texts_cleaned_to_empty():
    train = rows(
        [
            ("great http://a.io", "pos"),
            ("great", "pos"),
            ("http://only.a.link", "neg"),
            ("bad", "neg"),
        ]
    )
    valid = rows([("<b>ok</b>", "pos")])
    result = review(train, valid, cleaning=CleaningConfig(urls=True, html=True))
    assert result.changes == (
        TextChange(1, "great http://a.io", "great"),
        TextChange(3, "http://only.a.link", ""),
    )
    assert result.valid_changes == (TextChange(1, "<b>ok</b>", "ok"),)
    assert result.finding("cleaned_to_empty").message == (
        "cleaning leaves 1 text empty (row 3): they are reported as empty texts; drop them or "
        "turn off a cleaning rule"
    )
    assert result.finding("empty_text").rows == (3,)
    assert result.finding("duplicates").rows == (2,)  # identical once the URL is gone
    assert result.cleaning == CleaningConfig(urls=True, html=True)
    assert "cleaning (urls, html) changed 3 texts" in result.to_text()
    assert round_trip(result) == result


def test_review_without_cleaning_rules_lists_no_changes():
    result = review(rows([("a http://x.io", "p"), ("b", "q")]), cleaning=CleaningConfig())
    assert (result.cleaning, result.changes) == (None, ())


# ----------------------------------------------------------------------------- dropping rows


def test_droppable_rows_for_each_choice():
    train = rows(
        [("x", "a"), ("y", "b"), ("x", "a"), ("y", "a"), ("", "b"), ("z", "")]
        + [(f"b{i}", "b") for i in range(5)]
        + [(f"a{i}", "a") for i in range(5)]
        + [("only", "rare")]
    )
    valid = rows([("x", "a"), ("new", "b")])
    result = review(train, valid)
    assert droppable_rows(result, {"empty"}) == {"train": {5, 6}, "valid": set()}
    assert droppable_rows(result, {"duplicates"}) == {"train": {3}, "valid": set()}
    assert droppable_rows(result, {"conflicting"}) == {"train": {2, 4}, "valid": set()}
    assert droppable_rows(result, {"rare_labels"}) == {"train": {17}, "valid": set()}
    assert droppable_rows(result, {"leakage"}) == {"train": set(), "valid": {1}}
    assert droppable_rows(result, {"empty_text", "duplicates"}) == {
        "train": {3, 5},
        "valid": set(),
    }
    with pytest.raises(ValueError, match="unknown kind of rows to drop 'typos'"):
        droppable_rows(result, {"typos"})

    drops = droppable_rows(result, {"empty", "duplicates", "conflicting", "rare_labels"})
    again = review(train.without_rows(drops["train"]), valid.without_rows(drops["valid"]))
    assert not again.codes() & {"empty_text", "empty_label", "duplicates", "conflicting_labels"}
    assert again.ok


# ----------------------------------------------------------------------------- the text report


def test_to_text_report():
    text = review(labelled({"pos": 6, "neg": 2})).to_text()
    assert text.splitlines()[:8] == [
        "training examples:   6",
        "validation examples: 2 (automatic split by label, 20% asked, seed 42)",
        "labels:              2",
        "imbalance:           3.0 (largest / smallest)",
        "",
        "  label    train    valid",
        "  neg          1        1",
        "  pos          5        1",
    ]
    assert "warning: only 8 labelled training examples" in text
    assert "warning: 1 label has fewer than 5 examples: 'neg' (2: 1 training, 1 validation)" in text
    assert "warning (validation): all 2 labels have fewer than 5 validation rows" in text

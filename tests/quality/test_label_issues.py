"""The label check: cleanlab flags planted label errors, near-duplicates, the cache, choices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data.labeled import LabeledTexts
from core.errors import DataError
from core.quality.label_choices import apply_choices, choices_above
from core.quality.label_issues import LabelIssues, cache_path, find_label_issues
from core.quality.near_duplicates import near_duplicates
from core.quality.out_of_fold import choose_folds
from tests.helpers import planted


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDTUNE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_both_planted_errors_are_flagged_with_the_right_suggestion(small_model, cache):
    data, wrong = planted()
    result = find_label_issues(data, model=small_model)
    flagged = {issue.row: issue for issue in result.issues}
    for row, truth in wrong.items():
        assert row in flagged, result.to_text()
        assert flagged[row].suggested_label == truth
        assert flagged[row].given_label == data.labels[row - 1]
        assert flagged[row].suggested_confidence > flagged[row].given_confidence
        assert flagged[row].text == data.texts[row - 1]
    # ranked by self-confidence: the given label's probability rises down the list
    confidences = [issue.given_confidence for issue in result.issues]
    assert confidences == sorted(confidences)
    assert result.rows_checked == len(data) and result.folds == 5
    assert "row 4: 'weather'" in result.to_text()


def test_the_second_call_is_read_from_the_cache(small_model, cache):
    data, _ = planted()
    first = find_label_issues(data, model=small_model)
    path = cache_path(data)
    assert path.is_file() and not first.from_cache
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert LabelIssues.from_dict(stored) == first  # JSON round trip, no pickle
    second = find_label_issues(data, model=small_model)
    assert second.from_cache and second == first
    # A different data set (one label changed) is not served from that cache entry.
    other = LabeledTexts(data.texts, ("food",) + data.labels[1:], data.rows, data.name)
    assert cache_path(other) != path
    assert not find_label_issues(other, model=small_model, cache=False).from_cache


def test_near_duplicates_with_conflicting_labels_come_first():
    texts = ["the cat sat", "The cat sat!", "a dog ran", "a dog ran", "blue sky", "blue sky."]
    labels = ["a", "b", "a", "b", "c", "c"]
    data = LabeledTexts.from_pairs(zip(texts, labels, strict=True))
    # hand-made unit vectors: rows 1-2 almost equal, 3-4 identical texts, 5-6 almost equal
    e = np.zeros((6, 3), dtype=np.float32)
    e[0], e[1] = [1, 0, 0], [0.99, 0.141, 0]
    e[2], e[3] = [0, 1, 0], [0, 1, 0]
    e[4], e[5] = [0, 0, 1], [0, 0.1, 0.995]
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    pairs, more = near_duplicates(data, e, 0.95)
    assert [p.rows for p in pairs] == [(1, 2), (5, 6)]  # the exact duplicate (3, 4) is not one
    assert pairs[0].conflicting and pairs[0].labels == ("a", "b")
    assert not pairs[1].conflicting and more == 0
    assert near_duplicates(data, e, 0.999)[0] == []
    # bounded: beyond max_pairs per kind only a count is kept
    assert near_duplicates(data, e, 0.95, max_pairs=0) == ([], 2)


def test_near_duplicates_in_real_embeddings(small_model, cache):
    data, _ = planted()
    extra = LabeledTexts.from_pairs(
        list(zip(data.texts, data.labels, strict=True))
        + [("We watched the football match and our team scored!", "food")]
    )
    result = find_label_issues(extra, model=small_model)
    conflicting = result.conflicting_pairs
    assert conflicting and conflicting[0].rows == (1, len(extra))
    assert result.near_duplicates[0] == conflicting[0]


def test_folds_leave_two_examples_of_each_label_per_fold():
    assert choose_folds({"a": 100, "b": 40}) == 5
    assert choose_folds({"a": 100, "b": 7}) == 3
    assert choose_folds({"a": 100, "b": 3}) == 2


def test_rare_labels_are_skipped_and_too_few_labels_is_an_error(small_model, cache):
    data, _ = planted()
    rare = LabeledTexts.from_pairs(
        list(zip(data.texts, data.labels, strict=True)) + [("A lone poem about the sea", "poem")]
    )
    result = find_label_issues(rare, model=small_model, cache=False)
    assert result.skipped_labels == ("poem",)
    assert result.rows_checked == len(data)
    assert all(issue.row != len(rare) for issue in result.issues)
    two = LabeledTexts.from_pairs([("x", "a"), ("y", "a"), ("z", "a"), ("w", "b")])
    with pytest.raises(DataError) as err:
        find_label_issues(two, model=small_model, cache=False)
    assert str(err.value) == (
        "the label check needs at least 2 labels with 3 or more examples each, found 1: "
        "add examples"
    )


def test_no_row_changes_without_the_users_choice(small_model, cache):
    data, wrong = planted()
    result = find_label_issues(data, model=small_model)
    assert apply_choices(data, result, {}) is data
    assert apply_choices(data, result, {row: "keep" for row in wrong}) is data
    edited = apply_choices(data, result, {4: "relabel", 8: "drop"})
    assert edited.labels[3] == "sport" and 8 not in edited.rows
    assert len(edited) == len(data) - 1
    # every other row is untouched, and the original is not modified
    before = {r: (t, lab) for r, t, lab in zip(data.rows, data.texts, data.labels, strict=True)}
    for row, text, label in zip(edited.rows, edited.texts, edited.labels, strict=True):
        if row != 4:
            assert before[row] == (text, label)
    assert data.labels[3] == "weather"
    assert edited.name == "planted.csv (label check: 1 relabelled, 1 dropped)"
    bulk = choices_above(result, 0.0, "relabel")
    assert set(bulk) == {issue.row for issue in result.issues}


def test_choices_are_checked(small_model, cache):
    data, _ = planted()
    result = find_label_issues(data, model=small_model)
    with pytest.raises(DataError) as err:
        apply_choices(data, result, {4: "delete"})
    assert str(err.value) == "row 4: unknown choice 'delete': choose one of keep, relabel, drop"
    unflagged = next(r for r in data.rows if r not in {i.row for i in result.issues})
    with pytest.raises(DataError) as err:
        apply_choices(data, result, {unflagged: "drop"})
    assert str(err.value) == (
        f"not flagged by the label check (row {unflagged}): only flagged rows can be relabelled "
        "or dropped"
    )


# ----------------------------------------------------------------------------- the CLI


def test_cli_review_with_label_issues(tmp_path, cache, capsys, monkeypatch):
    import csv

    from core import cli
    from core.cli import review

    data, wrong = planted()
    path = tmp_path / "planted.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(zip(data.texts, data.labels, strict=True))
    monkeypatch.setattr(review, "PROGRESS_FROM_ROWS", 1)  # a bar even for this small file
    assert cli.main(["review", str(path), "--label-issues", "--json"]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    flagged = {item["row"]: item for item in payload["label_issues"]["issues"]}
    assert {row: flagged[row]["suggested_label"] for row in wrong} == wrong
    assert "near_duplicates" in payload["label_issues"] and "findings" in payload
    assert "embedding" in err and "folds" in err  # tqdm bars on stderr, not in the JSON
    assert cli.main(["review", str(path), "--label-issues"]) == 0  # from the cache now
    out, err = capsys.readouterr()
    assert "Label check (small base model, 36 rows, 5-fold" in out
    assert "row 4: 'weather'" in out and "-> 'sport'" in out


def test_many_copies_of_one_text_are_not_pairs():
    data = LabeledTexts.from_pairs([("same", "a")] * 3000 + [("Same", "b")])
    e = np.ones((len(data), 2), dtype=np.float32) / np.sqrt(2)
    pairs, more = near_duplicates(data, e, 0.95)
    assert [(p.rows, p.labels) for p in pairs] == [((1, 3001), ("a", "b"))] and more == 0

"""Label names as examples: which labels count as words, and the rows they add."""

from __future__ import annotations

import numpy as np
import pytest

from core.train.label_names import (
    finetune_rows,
    label_name_texts,
    name_as_text,
    with_label_names,
)


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("card_arrival", "card arrival"),
        ("what-song", "what song"),
        ("cardArrival", "card Arrival"),
        ("joy", "joy"),
        ("HUM", "HUM"),
        ("  spam ", "spam"),
        ("café_crème", "café crème"),
    ],
)
def test_a_label_is_written_as_words(label, text):
    assert name_as_text(label) == text


def test_labels_that_are_words_give_one_text_each_in_label_order():
    assert label_name_texts(["card_arrival", "joy", "rollover_401k"]) == [
        "card arrival",
        "joy",
        "rollover 401k",
    ]


def test_a_label_that_is_a_code_among_words_gets_no_name():
    assert label_name_texts(["card_arrival", "joy", "w2"]) == ["card arrival", "joy", None]


@pytest.mark.parametrize(
    "labels",
    [
        ["0", "1"],  # numbers
        ["label_1", "label_2"],  # codes whose letters are the same
        ["3 stars", "4 stars", "5 stars"],
        ["a", "b"],  # single letters
        ["spam", "Spam"],  # two labels that read the same
        ["x1", "y2", "joy"],  # fewer than half are words
    ],
)
def test_labels_that_are_not_words_give_no_names(labels):
    assert label_name_texts(labels) == [None] * len(labels)


def test_the_names_join_the_training_rows_with_their_label_ids():
    texts, y, added = with_label_names(
        ["a spicy soup", "she scored"], np.array([0, 1]), ["food", "sport"], enabled=True
    )
    assert texts == ["a spicy soup", "she scored", "food", "sport"]
    assert y.tolist() == [0, 1, 0, 1] and y.dtype == np.int64
    assert added == 2


def test_only_the_labels_with_a_name_get_a_row():
    texts, y, added = with_label_names(["x"], np.array([2]), ["card_arrival", "joy", "w2"], True)
    assert texts == ["x", "card arrival", "joy"] and y.tolist() == [2, 0, 1] and added == 2


@pytest.mark.parametrize(("labels", "enabled"), [(["food", "sport"], False), (["0", "1"], True)])
def test_nothing_is_added_when_off_or_when_labels_are_not_words(labels, enabled):
    texts, y, added = with_label_names(["x", "y"], np.array([0, 1]), labels, enabled)
    assert texts == ["x", "y"] and y.tolist() == [0, 1] and added == 0


def test_in_multi_label_data_a_name_row_carries_its_own_label_alone():
    y = np.array([[1, 1, 0], [0, 0, 1]], dtype=np.float32)
    texts, got, added = with_label_names(["x", "y"], y, ["joy", "love", "w2"], enabled=True)
    assert texts == ["x", "y", "joy", "love"] and added == 2
    assert got.tolist() == [[1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert got.dtype == np.float32


def test_the_estimates_count_the_name_rows_of_any_data():
    assert finetune_rows(100, ["joy", "love", "w2"], enabled=True) == 102
    assert finetune_rows(100, ["joy", "love"], enabled=False) == 100
    assert finetune_rows(100, ["0", "1"], enabled=True) == 100

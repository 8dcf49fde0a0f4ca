"""The pool (texts asked once, sampling, labels found in it) and the labels a person types."""

from __future__ import annotations

import pytest

from core.errors import DataError
from core.label.pool import make_pool, merge_labels, parse_labels, read_pool


def test_duplicates_are_asked_once_at_their_first_row():
    pool = make_pool(["a", " b ", "a", "", "c", "b"], labels=["", "x", "y", "", "", ""])
    assert pool.texts == ("a", "b", "c")
    assert pool.rows == (1, 2, 5)
    assert pool.given == {1: "x", 0: "y"}  # a repeat's label lands on the first row
    assert pool.notes == ("2 rows repeat texts given earlier (rows 3, 6): each text is asked once",)


def test_an_empty_pool():
    with pytest.raises(DataError) as err:
        make_pool(["", "  "], name="tickets.csv")
    assert str(err.value) == (
        "tickets.csv has no texts: expected a file with one text per row (a text column, and "
        "optionally a label column)"
    )


def test_a_pool_of_one_text():
    with pytest.raises(DataError) as err:
        make_pool(["refund please", "refund please"])
    assert str(err.value) == (
        "the pool has one text ('refund please', repeated): labelling chooses among many "
        "texts, so give it a file of at least 2 different texts (hundreds or thousands serve "
        "best)"
    )


def test_a_large_pool_is_sampled_with_its_labelled_rows_and_says_so():
    texts = [f"text {i}" for i in range(200_000)]
    labels = [""] * 200_000
    labels[150_000] = "x"
    pool = make_pool(texts, labels=labels, limit=1000, seed=3)
    assert len(pool) == 1000
    assert "text 150000" in pool.texts
    assert pool.given == {pool.texts.index("text 150000"): "x"}
    assert list(pool.rows) == sorted(pool.rows)
    assert pool.notes == (
        "the pool has 200,000 different texts: a random sample of 1,000 (seed 3) is labelled "
        "from, every text that has a label among them; split the file to label the rest",
    )
    assert make_pool(texts, labels=labels, limit=1000, seed=3) == pool


def test_read_pool_takes_a_partly_labelled_file(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text("text,label\nwhere is my card,card\nrefund me,\nhello,\n", encoding="utf-8")
    pool = read_pool(path)
    assert pool.texts == ("where is my card", "refund me", "hello")
    assert pool.rows == (2, 3, 4)
    assert pool.given == {0: "card"}
    assert pool.given_labels == ("card",)


def test_read_pool_takes_texts_alone_and_ignores_an_id_column(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text("id,text\n1,first ticket\n2,second ticket\n", encoding="utf-8")
    pool = read_pool(path)
    assert pool.texts == ("first ticket", "second ticket")
    assert pool.given == {}


def test_labels_typed():
    assert parse_labels(" billing, delivery ,,other\n") == ("billing", "delivery", "other")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("joy,anger,joy", "label 'joy' is given twice: give each label once"),
        (
            "Spam,ham,spam",
            "labels 'Spam' and 'spam' differ only in case: they would be two labels for one "
            "meaning; give it once, written one way",
        ),
        (
            "a,Skip",
            "'Skip' is what an answer is marked with, not a label: call the label something else",
        ),
        (
            "joy",
            "give at least 2 labels (only 'joy'): a classifier chooses between labels, e.g. "
            "billing, delivery, other",
        ),
    ],
)
def test_bad_labels(typed, message):
    with pytest.raises(DataError) as err:
        parse_labels(typed)
    assert str(err.value) == message


def test_merge_labels_keeps_the_typed_order_and_adds_the_used_ones():
    assert merge_labels(["b", "a"], ["c", "a", "skip"]) == ("b", "a", "c")
    with pytest.raises(DataError) as err:
        merge_labels(["Billing", "other"], ["billing"])
    assert str(err.value) == (
        "the labelled rows use 'billing' and the labels given have 'Billing': write the label "
        "one way in both"
    )

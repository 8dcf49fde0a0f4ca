"""Multi-label input: label lists and joined label cells in every format, the separator and its
quoting, detection, and what LabeledTexts and the split do with several labels per row."""

from __future__ import annotations

import json

import pytest

from core.data.files import read_labeled, read_table
from core.data.labeled import LabeledTexts, check_trainable, split
from core.data.multilabel import (
    from_label_sets,
    join_labels,
    looks_multi_label,
    split_cell,
)
from core.errors import DataError
from tests.helpers import csv_bytes, jsonl_bytes, parquet_bytes, read_error, xlsx_workbook

ROWS = [
    ("thanks, that is lovely", ["gratitude", "admiration"]),
    ("what a shame", ["sadness"]),
    ("meh", []),
    ("the R|B set was great", ["R|B", "joy"]),
]
# Each row's labels in the data set's label order (sorted), as every reader gives them.
SETS = (("admiration", "gratitude"), ("sadness",), (), ("R|B", "joy"))


def _joined(rows=ROWS, separator="|"):
    return [(text, join_labels(labels, separator)) for text, labels in rows]


def _tsv(pairs) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", lineterminator="\n").writerows(pairs)
    return buffer.getvalue().encode()


def test_a_label_cell_splits_on_the_separator_and_a_quoted_label_keeps_it():
    assert split_cell("a|b| c |a") == ("a", "b", "c")
    assert split_cell('"R|B"|jazz') == ("R|B", "jazz")
    assert split_cell("a;b", ";") == ("a", "b")
    assert split_cell("  ") == ()
    assert join_labels(["R|B", "jazz"]) == '"R|B"|jazz'
    for labels in (["R|B", "jazz"], ['say "hi"', "x"], ["a"]):
        assert split_cell(join_labels(labels)) == tuple(labels)


def test_a_bad_separator_and_an_unclosed_quote_say_what_to_do():
    with pytest.raises(DataError, match="one character other than a quote"):
        split_cell("a|b", "||")
    with pytest.raises(DataError) as info:
        split_cell('"R|B|jazz', where="row 3")
    assert str(info.value).startswith("row 3: the labels '\"R|B|jazz' cannot be split on '|'")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (jsonl_bytes(ROWS), "emotions.jsonl"),
        (json.dumps([{"text": t, "labels": s} for t, s in ROWS]).encode(), "emotions.json"),
        (csv_bytes(_joined()), "emotions.csv"),
        (_tsv(_joined()), "emotions.tsv"),
        (xlsx_workbook({"S": [list(pair) for pair in _joined()]}), "emotions.xlsx"),
        (
            parquet_bytes({"text": [t for t, _ in ROWS], "label": [s for _, s in ROWS]}),
            "emotions.parquet",
        ),
    ],
)
def test_every_format_reads_several_labels_per_row(raw, name):
    data = read_labeled(raw, name=name, multi_label=True)
    assert data.multi_label
    assert data.texts == tuple(text for text, _ in ROWS)
    assert data.label_sets == SETS
    assert data.classes == ("R|B", "admiration", "gratitude", "joy", "sadness")
    assert data.class_counts()["joy"] == 1
    assert data.labels[3] == '"R|B"|joy'  # each row's labels as one cell, for messages


def test_another_separator_can_be_chosen():
    raw = csv_bytes(_joined(separator=";"))
    data = read_labeled(raw, name="e.csv", multi_label=True, separator=";")
    assert data.label_sets == SETS


def test_a_label_field_of_numbers_or_objects():
    numbers = jsonl_bytes([("a", [1, 2]), ("b", [2])])  # type: ignore[list-item]
    assert read_labeled(numbers, name="n.jsonl", multi_label=True).label_sets == (
        ("1", "2"),
        ("2",),
    )
    objects = b'{"text": "a", "labels": [{"x": 1}]}\n{"text": "b", "labels": ["y"]}\n'
    message = read_error(objects, name="o.jsonl", multi_label=True)
    assert (
        message == "line 1: the labels in 'labels' must be a list of names or a text, found a list"
    )


def test_one_label_in_all_is_refused():
    message = read_error(
        jsonl_bytes([("a", ["x"]), ("b", ["x"])]), name="a.jsonl", multi_label=True
    )
    assert message == "the file has only one label ('x'): a classifier needs at least 2 labels"


def test_looks_multi_label_says_why():
    assert looks_multi_label(read_table(jsonl_bytes(ROWS), name="e.jsonl")) == (
        "4 of 4 rows give their labels as a list"
    )
    hint = looks_multi_label(read_table(csv_bytes(_joined()), name="e.csv"))
    assert hint is not None and hint.startswith("2 of 4 label cells contain '|'")
    plain = csv_bytes([("good", "pos"), ("bad", "neg")])
    assert looks_multi_label(read_table(plain, name="p.csv")) is None


def test_the_real_goemotions_files_agree(tmp_path):
    from tests.helpers import SHARED_DATA

    folder = SHARED_DATA / "goemotions"
    jsonl = read_labeled(folder / "train.jsonl", multi_label=True)
    csv_ = read_labeled(folder / "train.csv", multi_label=True)
    assert len(jsonl) == 5424 and len(jsonl.classes) == 28
    assert jsonl.label_sets == csv_.label_sets and jsonl.fingerprint() == csv_.fingerprint()
    assert jsonl.class_counts()["neutral"] == 1766
    assert sum(len(s) >= 2 for s in jsonl.label_sets or ()) == 878


def test_multi_label_fingerprints_differ_from_single_label_ones():
    single = LabeledTexts.from_pairs([("a", "x"), ("b", "y")])
    multi = from_label_sets(["a", "b"], [["x"], ["y"]])
    assert multi.classes == single.classes and multi.labels == single.labels
    assert multi.fingerprint() != single.fingerprint()
    assert LabeledTexts.from_dict(multi.to_dict()) == multi


def test_the_split_keeps_label_sets_and_check_trainable_takes_rows_without_labels():
    rows = [(f"text {i}", [["a"], ["b"], ["a", "b"], []][i % 4]) for i in range(40)]
    data = from_label_sets([t for t, _ in rows], [s for _, s in rows])
    dataset = split(data, valid_fraction=0.25, seed=0)
    assert dataset.train.multi_label and dataset.valid.multi_label
    assert len(dataset.train) + len(dataset.valid) == 40
    assert set(dataset.valid.classes) == {"a", "b"}
    check_trainable(dataset)  # rows with no label are examples of none of them
    again = split(data, valid_fraction=0.25, seed=0)
    assert again == dataset


def test_training_data_counts_a_multi_label_row_once():
    from core.data.labeled import TrainingData

    rows = [(f"text {i}", [["a"], ["b"], ["a", "b"], []][i % 4]) for i in range(40)]
    data = TrainingData(from_label_sets([t for t, _ in rows], [s for _, s in rows]), None, 0.25)
    for seed in (0, 1):
        dataset = data.split(seed)
        assert data.sizes() == (len(dataset.train), len(dataset.valid))

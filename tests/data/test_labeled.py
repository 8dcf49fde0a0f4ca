"""Tests for core.data.labeled: reading labelled CSV/TSV files, LabeledTexts, DataSet, split."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.data.files import MAX_FILE_BYTES, read_labeled_csv
from core.data.labeled import (
    DataSet,
    LabeledTexts,
    TrainingData,
    check_trainable,
    describe_rows,
    make_dataset,
    requested_valid_rows,
    sort_labels,
    split,
    split_sizes,
)
from core.errors import DataError
from tests.helpers import SHARED_DATA

DATA = SHARED_DATA


def write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def error(source: str | bytes | Path, **kwargs) -> str:
    """The DataError message reading this source raises."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    with pytest.raises(DataError) as info:
        read_labeled_csv(source, **kwargs)
    return str(info.value)


# ----------------------------------------------------------------------------- reading


def test_reads_a_plain_file_from_a_path(tmp_path):
    path = write(tmp_path, "great movie,pos\nawful plot,neg\n  spaced out  , pos \n")
    data = read_labeled_csv(path)
    assert data.texts == ("great movie", "awful plot", "spaced out")
    assert data.labels == ("pos", "neg", "pos")
    assert data.rows == (1, 2, 3)
    assert data.name == "data.csv"


def test_reads_bytes_and_takes_the_name_given():
    data = read_labeled_csv(b"a,x\nb,y\n", name="upload.csv")
    assert (data.texts, data.name) == (("a", "b"), "upload.csv")
    assert read_labeled_csv(b"a,x\nb,y\n").name == ""


def test_header_option_skips_the_first_row_and_rows_count_it():
    data = read_labeled_csv(b"text,label\ngood,pos\nbad,neg\n", header=True)
    assert data.texts == ("good", "bad")
    assert data.rows == (2, 3)


def test_bom_and_crlf(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfgood,pos\r\nbad,neg\r\n")
    data = read_labeled_csv(path)
    assert data.texts == ("good", "bad")  # no BOM glued to the first text
    assert data.labels == ("pos", "neg")


def test_utf16_with_bom_is_decoded():
    raw = "good\tpos\r\nbad\tneg\r\n".encode("utf-16")
    assert read_labeled_csv(raw).texts == ("good", "bad")


def test_utf16_reads_as_utf8_does(tmp_path):
    content = "caf\u00e9 \U0001f600,pos\nbad,neg\n"
    little = b"\xff\xfe" + content.encode("utf-16-le")
    big = b"\xfe\xff" + content.encode("utf-16-be")
    assert read_labeled_csv(little) == read_labeled_csv(big) == read_labeled_csv(content.encode())


def test_quoted_fields_keep_commas_quotes_and_newlines_and_rows_follow_physical_lines():
    content = (
        'first,pos\n"one, two",neg\n"he said ""hi""",pos\n'
        '"line one\nline two\r\nline three",neg\nafter,pos\n'
    )
    data = read_labeled_csv(content.encode())
    assert data.texts == (
        "first",
        "one, two",
        'he said "hi"',
        "line one\nline two\r\nline three",
        "after",
    )
    assert data.rows == (1, 2, 3, 4, 7)


def test_blank_lines_are_skipped_but_counted_in_rows():
    data = read_labeled_csv(b"\na,pos\n\n   \n,\nb,neg\n")
    assert data.texts == ("a", "b")
    assert data.rows == (2, 6)


def test_empty_text_and_empty_label_rows_are_kept():
    data = read_labeled_csv(b"a,pos\n,neg\nc,\nd,neg\n")
    assert data.texts == ("a", "", "c", "d")
    assert data.labels == ("pos", "neg", "", "neg")
    assert data.classes == ("neg", "pos")


def test_unicode_separator_characters_are_not_line_breaks():
    # U+0085 (in the imdb data) and U+2028 are line breaks for str.splitlines, not for CSV.
    data = read_labeled_csv("a\x85b,pos\nc\u2028d,neg\ne,pos\n".encode())
    assert data.texts == ("a\x85b", "c\u2028d", "e")
    assert data.rows == (1, 2, 3)


def test_tsv_by_name_and_by_sniffing(tmp_path):
    by_name = read_labeled_csv(write(tmp_path, "a, b\tpos\nc\tneg\n", name="data.tsv"))
    assert by_name.texts == ("a, b", "c")
    sniffed = read_labeled_csv(b"good film\tpos\nbad, sadly\tneg\n")
    assert sniffed.texts == ("good film", "bad, sadly")
    # A tab inside a quoted CSV text does not make the file a TSV.
    csv_file = read_labeled_csv(b'"tab\there\nand a new line",pos\nx,neg\n')
    assert csv_file.texts == ("tab\there\nand a new line", "x")


def test_labels_numeric_sort_numerically_names_alphabetically():
    data = read_labeled_csv(b"a,10\nb,2\nc,1\nd,2\n")
    assert data.classes == ("1", "2", "10")
    assert data.class_counts() == {"1": 1, "2": 2, "10": 1}
    names = read_labeled_csv(b"a,sadness\nb,joy\nc,anger\nd,joy\n")
    assert names.classes == ("anger", "joy", "sadness")
    assert sort_labels(["-1", "0", "1", "10", "9"]) == ("-1", "0", "1", "9", "10")
    assert sort_labels(["10", "9", "x"]) == ("10", "9", "x")


def test_first_row_that_only_looks_odd_is_not_a_header():
    # "label" is a real class here: it occurs again, so row 1 is data.
    data = read_labeled_csv(b"text,label\nmore,label\nother,thing\n")
    assert len(data) == 3
    # A unique first label that is no header word, with an ordinary text, is data too.
    assert len(read_labeled_csv(b"hello,rare\na,pos\nb,pos\nc,neg\nd,neg\n")) == 5


# ----------------------------------------------------------------------------- reading errors


def test_error_empty_file():
    for content in (b"", b"   \n\n \r\n", b"\xef\xbb\xbf", b",\n,\n"):
        assert error(content) == "the file is empty: expected rows of text,label"


def test_error_header_without_rows():
    assert error(b"text,label\n", header=True) == (
        "the file has a header row but no data rows: expected rows of text,label after it"
    )


def test_error_over_the_size_limit(tmp_path):
    path = write(tmp_path, b"a,b\n" * (3 * 2**18 // 2))  # 1.5 MB
    assert error(path, max_bytes=2**20) == (
        "the file is 1.5 MB, over the 1 MB limit (MAX_FILE_BYTES): "
        "sample it or split it into smaller files"
    )
    assert MAX_FILE_BYTES == 200 * 1024 * 1024


def test_error_too_many_columns():
    content = "".join(f"text {i},pos\n" for i in range(16)) + "a, b, c,neg\n"
    assert error(content) == (
        "row 17: expected 2 columns (text, label), found 4 "
        "(put texts that contain a comma in double quotes)"
    )


def test_error_one_column_in_a_tsv(tmp_path):
    path = write(tmp_path, "good\tpos\n\nno label here\n", name="data.tsv")
    assert error(path) == (
        "row 3: expected 2 columns (text, label), found 1 "
        "(separate the text and the label with a tab)"
    )


def test_error_unclosed_quote_names_the_row_where_it_opens():
    content = 'ok,pos\n"fine\nacross lines",neg\nstill fine,pos\n"oops,neg\nmore,pos\nend,neg\n'
    assert error(content) == (
        "row 5: a quote opens here and is never closed, so it swallows the rest of the file: "
        'close the quote, or write a quote inside a quoted text as ""'
    )


def test_error_unclosed_quote_in_a_large_file():
    content = 'ok,pos\nfine,neg\n"oops,neg\n' + "a long line of text,pos\n" * 6000
    assert error(content) == (
        "row 3: a quote opens here and is not closed before the field grows too long "
        "(field larger than field limit (131072)): close the quote, or write a quote inside a "
        'quoted text as ""'
    )


def test_error_giant_field():
    assert error("ok,pos\n" + "x" * 140_000 + ",neg\n") == (
        "row 2: cannot read this row (field larger than field limit (131072)): shorten the text"
    )


def test_error_undeclared_header():
    assert error(b"text,label\ngood,pos\nbad,neg\n") == (
        "row 1 looks like a header ('text', 'label'): use the header option (--header) or remove it"
    )
    # Also caught: an ordinary label word, or a text word with a label seen nowhere else.
    assert "looks like a header" in error(b"Sentence,Sentiment\na,0\nb,1\n")
    assert "looks like a header" in error(b"review,stars\na,0\nb,1\nc,0\nd,1\n")


def test_error_all_labels_empty():
    assert error(b"a,\nb,\n") == (
        "every row has an empty label: expected rows of text,label with the label in the "
        "second column"
    )


def test_error_one_label():
    assert error(b"a,pos\nb,pos\nc,\n") == (
        "only one label ('pos') found: a classifier needs at least 2 labels"
    )


def test_error_missing_file_and_folder(tmp_path):
    assert error(tmp_path / "nope.csv") == f"file not found: {tmp_path / 'nope.csv'}"
    assert error(tmp_path) == f"{tmp_path} is a folder: expected a CSV file"


# ----------------------------------------------------------------------------- round trip property

_ALPHABET = st.sampled_from(
    list("abcxyz AZ09,;\"'\t\n\r.!?")
    + ["é", "ß", "😀", "👍🏽", "\u200b", "\u200d", "שלום", "مرحبا", "\u202e", "中文", "\x85"]
)
_TEXT = (
    st.lists(_ALPHABET, min_size=1, max_size=12)
    .map("".join)
    .filter(lambda text: text.strip() == text and text != "")
)
_LABELS = ["pos", "né,g", 'say "hi"', "two\nlines", "😀", "ملصق", "1", "10"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=st.lists(st.tuples(_TEXT, st.sampled_from(_LABELS)), min_size=2, max_size=15),
    terminator=st.sampled_from(["\r\n", "\n"]),
)
def test_any_pairs_written_by_csv_writer_read_back_identically(pairs, terminator):
    assume(len({label for _, label in pairs}) >= 2)
    assume(pairs[0][0].lower() not in {"x", "y"})  # a one-letter "x" could be a header cell
    if terminator == "\n":
        # Python 3.11's writer quotes only the terminator's characters: a bare "\r" in a text
        # would be written unquoted, which no reader can tell from a line break.
        assume(not any("\r" in text for text, _ in pairs))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=terminator)
    rows, line = [], 1
    for pair in pairs:
        start = buffer.tell()
        writer.writerow(pair)
        rows.append(line)
        line += len(io.StringIO(buffer.getvalue()[start:], newline="").readlines())
    data = read_labeled_csv(buffer.getvalue().encode("utf-8"))
    assert list(zip(data.texts, data.labels)) == pairs
    assert list(data.rows) == rows


# ----------------------------------------------------------------------------- the real data sets

REAL_COUNTS = {
    "sst2/train.csv": (10000, {"0": 4426, "1": 5574}),
    "sst2/test.csv": (872, {"0": 428, "1": 444}),
    "uci-sentiment/amazon/train.csv": (693, {"0": 348, "1": 345}),
    "uci-sentiment/amazon/test.csv": (297, {"0": 149, "1": 148}),
    "uci-sentiment/imdb/train.csv": (698, {"0": 349, "1": 349}),
    "uci-sentiment/imdb/test.csv": (299, {"0": 150, "1": 149}),
    "uci-sentiment/yelp/train.csv": (697, {"0": 348, "1": 349}),
    "uci-sentiment/yelp/test.csv": (299, {"0": 149, "1": 150}),
    "emotion/train.csv": (
        15999,
        {"anger": 2159, "fear": 1937, "joy": 5361, "love": 1304, "sadness": 4666, "surprise": 572},
    ),
    "emotion/test.csv": (
        2000,
        {"anger": 275, "fear": 224, "joy": 695, "love": 159, "sadness": 581, "surprise": 66},
    ),
    "sms-spam/train.csv": (4128, {"ham": 3614, "spam": 514}),
    "sms-spam/test.csv": (1032, {"ham": 904, "spam": 128}),
    "clinc150/train.csv": (17999, None),
    "clinc150/test.csv": (4500, None),
    "hwu64/train.csv": (9960, None),
    "hwu64/test.csv": (1076, None),
    # Multi-label: the label cell joins 1-4 emotions with "|"; read here as single-label cells.
    "goemotions/train.csv": (5424, None),
    "goemotions/test.csv": (5422, None),
}


def test_every_real_data_file_is_listed():
    found = {str(path.relative_to(DATA)) for path in DATA.rglob("*.csv")}
    assert found == set(REAL_COUNTS)


@pytest.mark.parametrize("relpath", sorted(REAL_COUNTS))
def test_real_data_sets_read_with_the_documented_counts(relpath):
    rows, counts = REAL_COUNTS[relpath]
    data = read_labeled_csv(DATA / relpath)  # header=False: no false positive on row 1
    assert len(data) == rows
    assert data.rows == tuple(range(1, rows + 1))  # no embedded newlines in these files
    assert "" not in data.texts and "" not in data.labels
    if counts is not None:
        assert data.class_counts() == counts
    elif relpath.startswith("clinc150/"):
        per_class = data.class_counts()
        assert len(per_class) == 150
        expected = 30 if relpath.endswith("test.csv") else 120
        assert {n for label, n in per_class.items() if label != "greeting"} == {expected}
    elif relpath.startswith("hwu64/"):
        per_class = data.class_counts()
        assert len(per_class) == 64
        small, large = (3, 19) if relpath.endswith("test.csv") else (35, 175)
        assert (min(per_class.values()), max(per_class.values())) == (small, large)
        assert per_class["iot_hue_lighton"] == small


# ----------------------------------------------------------------------------- LabeledTexts


def test_labeled_texts_methods():
    data = LabeledTexts.from_pairs([("a", "x"), ("b", "y"), ("c", "x")], name="n")
    assert len(data) == 3 and data.rows == (1, 2, 3)
    assert data.subset([2, 0]).texts == ("c", "a")
    assert data.subset([2, 0]).rows == (3, 1)
    assert data.without_rows({2}).texts == ("a", "c")
    cleaned = data.with_texts(["A", "B", "C"])
    assert (cleaned.texts, cleaned.labels, cleaned.rows) == (
        ("A", "B", "C"),
        data.labels,
        data.rows,
    )
    assert LabeledTexts.from_dict(json.loads(json.dumps(data.to_dict()))) == data
    with pytest.raises(ValueError, match="same length"):
        LabeledTexts(("a",), ("x", "y"), (1,))


def test_fingerprint_depends_on_pairs_only():
    data = LabeledTexts.from_pairs([("a", "x"), ("b", "y")], name="one")
    moved = LabeledTexts(data.texts, data.labels, (5, 9), name="other")
    assert data.fingerprint() == moved.fingerprint()
    assert len(data.fingerprint()) == 64
    assert data.fingerprint() != LabeledTexts.from_pairs([("b", "y"), ("a", "x")]).fingerprint()
    # Stable across runs: a fixed value, not a hash() that changes per process.
    assert LabeledTexts.from_pairs([("a", "x")]).fingerprint() == (
        "1327285b58a2ff712c30a11cbaded994f46118f2e496f611dc48e3b891c2a688"
    )


def test_describe_rows():
    assert describe_rows([7]) == "row 7"
    assert describe_rows([3, 8]) == "rows 3, 8"
    assert describe_rows(range(1, 10)) == "rows 1, 2, 3, 4, 5 and 4 more"


# ----------------------------------------------------------------------------- split


def _data(counts: dict[str, int]) -> LabeledTexts:
    pairs = [(f"{label} {i}", label) for label, n in counts.items() for i in range(n)]
    # Interleave the labels so the file order is not grouped by label.
    pairs.sort(key=lambda pair: int(pair[0].split()[1]))
    return LabeledTexts.from_pairs(pairs)


def test_split_is_stratified_and_keeps_rows():
    data = _data({"a": 50, "b": 30, "c": 20})
    ds = split(data, valid_fraction=0.2, seed=0)
    assert ds.valid.class_counts() == {"a": 10, "b": 6, "c": 4}
    assert ds.train.class_counts() == {"a": 40, "b": 24, "c": 16}
    assert sorted(ds.train.rows + ds.valid.rows) == list(data.rows)
    for part in (ds.train, ds.valid):
        assert list(part.rows) == sorted(part.rows)  # file order kept
        for text, label, row in zip(part.texts, part.labels, part.rows, strict=True):
            assert (data.texts[row - 1], data.labels[row - 1]) == (text, label)
    assert (ds.valid_source, ds.valid_fraction, ds.seed) == ("split", 0.2, 0)


def test_split_is_seeded_and_reproducible():
    data = _data({"a": 40, "b": 40})
    assert split(data, seed=3) == split(data, seed=3)
    assert split(data, seed=3).valid.rows != split(data, seed=4).valid.rows


def test_split_gives_each_label_one_example_on_each_side_where_possible():
    data = _data({"big": 100, "two": 2, "three": 3, "one": 1})
    ds = split(data, valid_fraction=0.1, seed=0)
    # 11 of 106 rows asked for (10.6, rounded); "two" and "three" must give one each, so "big"
    # gives 9 of its 10.
    assert ds.valid.class_counts() == {"big": 9, "three": 1, "two": 1}
    assert ds.train.class_counts() == {"big": 91, "one": 1, "three": 2, "two": 1}
    assert split_sizes({"a": 5, "b": 1, "c": 2}, 0.9) == {"a": 4, "b": 0, "c": 1}


def test_split_takes_the_fraction_asked_for_with_many_small_labels():
    # The support inbox of issue 26: 77 intents of 8 rows. Rounding each label's 1.6 up gave
    # 2 each, 154 rows (25 %); largest remainders give 123 = round(616 * 0.2).
    labels = [f"intent {i:02}" for i in range(77)]
    data = _data(dict.fromkeys(labels, 8))
    ds = split(data, valid_fraction=0.2, seed=0)
    assert (len(ds.train), len(ds.valid)) == (493, 123)
    held = ds.valid.class_counts()
    # Equal remainders (0.6 each): the first 46 labels in label order get the second row.
    assert [held[label] for label in labels] == [2] * 46 + [1] * 31
    assert TrainingData(data).sizes() == (493, 123)
    # 150 labels of 3 rows: 90 asked for, but each label gives one, so 150 it is.
    many = _data({f"l{i:03}": 3 for i in range(150)})
    assert len(split(many, valid_fraction=0.2).valid) == 150
    assert requested_valid_rows(450, 0.2) == 90
    # Halves round up; the fraction is taken as typed (0.7 * 5 is 3.5, not 3.4999...).
    assert requested_valid_rows(2, 0.25) == 1 and requested_valid_rows(5, 0.7) == 4


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=1, max_size=60),
    fraction=st.sampled_from([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.8]),
)
def test_split_sizes_meet_the_total_within_their_bounds(counts, fraction):
    named = {f"label {i:02}": n for i, n in enumerate(counts)}
    sizes = split_sizes(named, fraction)
    low = sum(1 for n in counts if n >= 2)
    high = sum(n - 1 for n in counts if n >= 2)
    asked = requested_valid_rows(sum(counts), fraction)
    assert sum(sizes.values()) == min(max(asked, low), high)
    for label, n in named.items():
        assert (1 if n >= 2 else 0) <= sizes[label] <= max(n - 1, 0)
    if all(1 <= n * fraction <= n - 1 for n in counts):
        # No bound binds: plain largest remainders, each label within a row of its share.
        assert all(abs(sizes[label] - n * fraction) < 1 for label, n in named.items())
    assert split_sizes(named, fraction) == sizes  # counts alone decide


def test_split_rejects_a_bad_fraction():
    with pytest.raises(DataError) as info:
        split(_data({"a": 5, "b": 5}), valid_fraction=1.0)
    assert str(info.value) == (
        "the validation fraction must be between 0 and 1 (e.g. 0.2), got 1.0"
    )


def test_make_dataset_uses_the_file_or_splits():
    train, valid = _data({"a": 5, "b": 5}), _data({"a": 2, "b": 2})
    from_file = make_dataset(train, valid)
    assert (from_file.train, from_file.valid, from_file.valid_source) == (train, valid, "file")
    assert (from_file.valid_fraction, from_file.seed) == (None, None)
    assert make_dataset(train, valid_fraction=0.4, seed=1) == split(
        train, valid_fraction=0.4, seed=1
    )


def test_dataset_classes_fingerprint_and_round_trip():
    ds = split(_data({"10": 5, "9": 5}), seed=0)
    assert ds.classes == ("9", "10")
    assert DataSet.from_dict(json.loads(json.dumps(ds.to_dict()))) == ds
    other_seed = split(_data({"10": 5, "9": 5}), seed=1)
    assert ds.fingerprint() != other_seed.fingerprint()
    assert ds.fingerprint() == split(_data({"10": 5, "9": 5}), seed=0).fingerprint()


# ----------------------------------------------------------------------------- check_trainable


def _check_error(ds: DataSet) -> str:
    with pytest.raises(DataError) as info:
        check_trainable(ds)
    return str(info.value)


def test_check_trainable_accepts_good_data():
    check_trainable(split(_data({"a": 5, "b": 5})))


def test_check_trainable_one_label():
    ds = make_dataset(_data({"a": 5}), _data({"a": 2}))
    assert _check_error(ds) == (
        "the training data has only one label ('a'): a classifier needs at least 2 labels"
    )


def test_check_trainable_empty_validation():
    ds = split(_data({"a": 1, "b": 1}))
    assert _check_error(ds) == (
        "the validation set is empty: give a validation file, or add rows so that each label "
        "has at least 2 examples to split"
    )


def test_check_trainable_empty_text():
    data = LabeledTexts(("a", "", "c", "d", "e", ""), ("x", "y", "x", "y", "x", "y"), range(1, 7))
    assert _check_error(make_dataset(data, data.subset([0, 3]))) == (
        "rows 2, 6: empty text; drop the flagged rows or fix the file"
    )


def test_check_trainable_empty_label_in_validation_file():
    train = _data({"a": 3, "b": 3})
    valid = LabeledTexts(("p", "q"), ("a", ""), (1, 2))
    assert _check_error(make_dataset(train, valid)) == (
        "row 2 of the validation file: empty label; drop the flagged rows or fix the file"
    )


def test_check_trainable_unknown_validation_label():
    valid = LabeledTexts(("p", "q", "r"), ("a", "zzz", "zzz"), (1, 4, 9))
    assert _check_error(make_dataset(_data({"a": 3, "b": 3}), valid)) == (
        "label 'zzz' is in the validation set (rows 4, 9) but not in the training data: "
        "add training examples of it or drop those rows"
    )


def test_training_data_is_split_by_the_runs_seed():
    from core.data.labeled import TrainingData
    from tests.helpers import tiny_pairs

    data = TrainingData(LabeledTexts.from_pairs(tiny_pairs(12)), valid_fraction=0.25)
    assert data.sizes() == (18, 6)
    first, again, other = data.split(42), data.split(42), data.split(7)
    assert first == again and first.seed == 42 and len(first.valid) == 6
    assert first.valid.rows != other.valid.rows and len(other.valid) == 6
    given = TrainingData(data.train, LabeledTexts.from_pairs(tiny_pairs(2)))
    assert given.sizes() == (24, 4) and given.split(1) == given.split(2)  # a file: no split
    assert data.fingerprint() != given.fingerprint()
    with pytest.raises(DataError, match="validation fraction must be between 0 and 1"):
        TrainingData(data.train, valid_fraction=1.5)

"""Tests for core.data.files: Excel workbooks, JSON Lines, JSON records and Parquet files made
here, each read right (texts, labels and the row numbers a user sees) or refused with its row;
formats told apart by content; the column choice. (CSV/TSV reading: tests/data/test_labeled.py.)"""

from __future__ import annotations

import io
import json
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data.files import read_labeled, read_table
from core.data.inputs import read_texts
from core.data.table import HeaderRowError
from core.io import sniff_bytes
from tests.helpers import parquet_bytes, read_error, xlsx_bytes, xlsx_workbook

# ----------------------------------------------------------------------------- Excel

# What a labelling spreadsheet looks like: a title merged across the columns, a header row, an
# empty row, a formula whose result Excel saved, a label merged down over two rows, a number.
REVIEWS = [
    ["Customer reviews, March", None],
    ["text", "label"],
    ["Great film, would watch again", "positive"],
    [],
    ["The plot made no sense", "negative"],
    ["=A3", "positive"],
    ["Awful sound", "negative"],
    ["Dull and far too long", None],
    [2024, "positive"],
]
REVIEWS_BOOK = {
    "sheets": {"Reviews": REVIEWS},
    "merged": {"Reviews": ["A1:B1", "B7:B8"]},
    "cached": {("Reviews", "A6"): "Great film, would watch again"},
}


def test_a_workbook_reads_with_its_spreadsheet_rows():
    raw = xlsx_workbook(**REVIEWS_BOOK)
    data = read_labeled(raw, name="reviews.xlsx", header=True)
    assert data.texts == (
        "Great film, would watch again",
        "The plot made no sense",
        "Great film, would watch again",  # the formula's saved result
        "Awful sound",
        "Dull and far too long",
        "2024",  # a number reads as it shows, not 2024.0
    )
    # Row 8's label is the cell merged down from row 7.
    assert data.labels == ("positive", "negative", "positive", "negative", "negative", "positive")
    assert data.rows == (3, 5, 6, 7, 8, 9)  # the title (1), the header (2) and row 4 are not data
    assert data.name == "reviews.xlsx"
    table = read_table(raw, name="reviews.xlsx", header=True)
    assert (table.columns, table.sheet, table.sheets) == (
        ("text", "label"),
        "Reviews",
        ("Reviews",),
    )


def test_a_workbooks_header_row_is_found_below_its_merged_title():
    with pytest.raises(HeaderRowError) as info:
        read_labeled(xlsx_workbook(**REVIEWS_BOOK), name="reviews.xlsx")
    assert str(info.value) == (
        "sheet 'Reviews', row 2 looks like a header ('text', 'label'): "
        "use the header option (--header) or remove it"
    )
    assert (info.value.where, info.value.text, info.value.label) == (
        "sheet 'Reviews', row 2",
        "text",
        "label",
    )


def test_header_infer_reads_a_first_row_of_column_names_as_the_header_and_says_so():
    table = read_table(xlsx_workbook(**REVIEWS_BOOK), name="reviews.xlsx", header="infer")
    assert table.header and table.columns == ("text", "label")
    assert table.notes == (
        "sheet 'Reviews', row 2 looks like column names ('text', 'label'), so it was read as "
        "the header",
    )
    wide = b"id,message,intent\n1,where is my parcel,delivery\n2,cancel it,cancel\n"
    wide += b"3,refund please,cancel\n"
    assert read_table(wide, name="t.csv", header="infer").columns == ("id", "message", "intent")
    # A first row that is an example stays one.
    plain = b"where is my parcel,delivery\ncancel it,cancel\nrefund please,cancel\n"
    table = read_table(plain, name="t.csv", header="infer")
    assert not table.header and len(table) == 3 and table.notes == ()


def test_a_formula_no_program_has_calculated_reads_as_an_empty_text():
    # openpyxl writes no result for a formula: the cell is empty until a spreadsheet program
    # saves the file, and the review flags the row as an empty text.
    raw = xlsx_workbook({"S": [["good", "pos"], ["=A1", "neg"], ["bad", "neg"]]})
    data = read_labeled(raw, name="script.xlsx")
    assert (data.texts, data.rows) == (("good", "", "bad"), (1, 2, 3))


def test_a_chosen_sheet_and_columns_of_a_workbook():
    raw = xlsx_workbook(
        {
            "Notes": [["read me first"]],
            "Test": [
                ["id", "review", "stars", "source"],
                [1, "fine", 4, "web"],
                [2, "bad", 1, "app"],
            ],
        }
    )
    data = read_labeled(raw, name="book.xlsx", sheet="Test", header=True, label_column="stars")
    assert (data.texts, data.labels, data.rows) == (("fine", "bad"), ("4", "1"), (2, 3))
    assert data.name == "book.xlsx (sheet 'Test')"
    # Without a header the columns are the sheet's letters.
    table = read_table(raw, sheet="Test")
    assert table.columns == ("A", "B", "C", "D") and table.choose_columns
    # What the app's selects offer first: a usual name for the texts ("review"), then the next.
    assert read_table(raw, sheet="Test", header=True).suggested_columns() == (1, 2)
    by_number = read_labeled(raw, sheet="Test", header=True, text_column="2", label_column="4")
    assert by_number.labels == ("web", "app")


def test_workbook_errors_name_the_sheet():
    raw = xlsx_workbook({"Empty": [], "Data": [["a", "x", "1"], ["b", "y", "2"]]})
    assert (
        read_error(raw, sheet="Missing")
        == "no sheet 'Missing' in the workbook: its sheets are 'Empty', 'Data'"
    )
    assert read_error(raw) == (
        "sheet 'Empty' is empty: expected rows of text, label "
        "(the workbook's other sheets: 'Data'; choose one)"
    )
    assert read_error(raw, sheet="Data") == (
        "sheet 'Data' has 3 columns ('A', 'B', 'C'): choose the text and label columns "
        "(--text-column, --label-column)"
    )
    header_only = xlsx_workbook({"S": [["text", "label"]]})
    assert read_error(header_only, header=True) == (
        "sheet 'S' has a header row but no data rows: expected rows of text, label after it"
    )
    no_labels = xlsx_workbook({"S": [["good", None, "p"], ["bad", None, "q"]]})
    assert read_error(no_labels, text_column="A", label_column="B") == (
        "every row has an empty label in column 'B' of sheet 'S': "
        "choose the column that holds the labels"
    )


def test_a_workbook_or_parquet_file_that_unpacks_to_too_much_is_refused_before_it_is_read():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/workbook.xml", "<workbook/>")
        bomb.writestr("xl/worksheets/sheet1.xml", " " * 3_000_000)  # about 3 KB packed
    raw = buffer.getvalue()
    assert read_error(raw, max_bytes=100_000) == (
        "the workbook unpacks to 3 MB, over the 2.38419 MB a file may unpack to "
        "(UNPACK_RATIO times MAX_FILE_BYTES): save a smaller part of it"
    )
    texts = pa.table({"text": ["the same text again and again"] * 50_000, "label": ["p"] * 50_000})
    packed = io.BytesIO()
    pq.write_table(texts, packed, use_dictionary=False, compression="zstd")
    assert read_error(packed.getvalue(), max_bytes=len(packed.getvalue())).startswith(
        "the Parquet file unpacks to 2 MB, over the "
    )


def test_a_zip_that_is_not_a_readable_workbook():
    assert read_error(xlsx_bytes(), name="book.xlsx").startswith(
        "the file looks like an Excel workbook (.xlsx) but cannot be read ("
    )
    assert read_error(xlsx_bytes()).endswith("open it in Excel, save it again and try again")


# ----------------------------------------------------------------------------- JSON Lines / JSON

UNICODE = ["naïve café ☕", "שלום עולם", "中文评论", "emoji 👍🏽 and a\u2028line separator"]


def jsonl(records: list[dict], blank_after: int = -1) -> bytes:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if blank_after >= 0:
        lines.insert(blank_after + 1, "")
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_json_lines_with_unicode_read_with_their_line_numbers():
    records = [{"text": t, "label": ["pos", "neg"][i % 2], "id": i} for i, t in enumerate(UNICODE)]
    data = read_labeled(jsonl(records, blank_after=1), name="data.jsonl")
    assert data.texts == tuple(UNICODE)
    assert data.labels == ("pos", "neg", "pos", "neg")
    assert data.rows == (1, 2, 4, 5)  # line 3 is blank


def test_json_lines_with_chosen_fields_numbers_and_nulls():
    raw = jsonl(
        [
            {"utterance": "book a table", "intent": 1, "lang": "en"},
            {"utterance": "play jazz", "intent": 2.0, "lang": "en"},
            {"utterance": "wake me up", "intent": None, "lang": "en"},
        ]
    )
    data = read_labeled(raw, name="intents.jsonl")  # "utterance" and "intent" are usual names
    assert data.labels == ("1", "2", "")  # null is an empty label (the review flags it)
    chosen = read_labeled(raw, name="intents.jsonl", text_column="lang", label_column="intent")
    assert chosen.texts == ("en", "en", "en")


def test_json_lines_errors_name_the_line():
    missing = jsonl(
        [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}, {"text": "c", "lable": "x"}]
    )
    assert read_error(missing, name="d.jsonl") == (
        "line 3: the record has no 'label' field (it has 'text', 'lable')"
    )
    broken = b'{"text": "a", "label": "x"}\n{"text": "b", "label": "y"\n'
    assert read_error(broken, name="d.jsonl") == (
        "line 2: not valid JSON (Expecting ',' delimiter, column 27): JSON Lines holds one "
        "whole record per line"
    )
    assert read_error(b'{"text": "a", "label": "x"}\n7\n', name="d.jsonl") == (
        'line 2: expected a JSON object such as {"text": ..., "label": ...}, found a number'
    )
    nested = jsonl([{"text": "a", "label": ["x", "y"]}, {"text": "b", "label": "y"}])
    assert read_error(nested, name="d.jsonl") == (
        "line 1: the field 'label' holds a list, not a text: choose another field"
    )
    assert read_error(b"\n\n", name="d.jsonl") == (
        'the file has no records: expected {"text": ..., "label": ...} records'
    )


def test_a_json_list_reads_with_the_line_each_record_starts_on():
    raw = json.dumps(
        [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}], indent=2
    ).encode()
    data = read_labeled(raw, name="data.json")
    assert (data.texts, data.rows) == (("good", "bad"), (2, 6))
    assert read_error(
        b'[{"text": "a", "label": "x"},\n {"text": "b" "label": "y"}]', name="d.json"
    ) == ("line 2: not valid JSON (Expecting ',' delimiter, column 15)")
    assert read_error(b'["a", "b", 3]', name="d.json") == (
        "the file is JSON (a list of numbers and strings): expected records such as "
        '{"text": ..., "label": ...}, one per line (JSON Lines) or in a list'
    )


def test_a_json_file_renamed_csv_is_read_as_json_with_a_note():
    records = [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]
    for raw, form in (
        (json.dumps(records).encode(), "a list of records"),
        (jsonl(records), "one record per line"),
    ):
        table = read_table(raw, name="export.csv")
        assert table.notes == (f"the file is JSON ({form}), not CSV: it was read as JSON records",)
        assert table.labeled().texts == ("good", "bad")
    assert read_error(b'{"data": [{"text": "a"}], "total": 1}', name="export.csv") == (
        "the file is JSON (one object with the keys 'data', 'total'), not CSV: expected records "
        'such as {"text": ..., "label": ...}, one per line (JSON Lines) or in a list'
    )
    # A CSV whose first text starts with a bracket stays CSV.
    data = read_labeled(b"[URGENT] server down,bug\nall fine,ok\n", name="tickets.csv")
    assert data.texts == ("[URGENT] server down", "all fine")


# ----------------------------------------------------------------------------- Parquet


FOUR = {
    "id": [10, 11, 12],
    "comment": ["loved it", "never again", "fine"],
    "score": [0.93, 0.12, 0.5],
    "rating": ["good", "bad", "good"],
}


def test_parquet_that_cannot_be_read_or_is_empty():
    assert read_error(
        parquet_bytes({"text": pa.array([], pa.string()), "label": pa.array([], pa.string())})
    ) == ("the file has no rows: expected a column of texts and a column of labels")
    assert read_error(b"PAR1 but cut short").startswith(
        "the file looks like Parquet but cannot be read ("
    )


def test_parquet_with_four_columns_reads_the_two_chosen():
    raw = parquet_bytes(FOUR)
    table = read_table(raw, name="reviews.parquet")
    assert table.columns == ("id", "comment", "score", "rating") and table.choose_columns
    assert table.cells[0] == ("10", "loved it", "0.93", "good")
    data = table.labeled("comment", "rating")
    assert (data.texts, data.labels, data.rows) == (
        ("loved it", "never again", "fine"),
        ("good", "bad", "good"),
        (1, 2, 3),
    )
    assert read_error(raw) == (
        "the file has 4 columns ('id', 'comment', 'score', 'rating'): choose the text and label "
        "columns (--text-column, --label-column)"
    )
    # Usual names are found without a choice ("sentence", "sentiment").
    named = parquet_bytes(
        {"n": [1, 2], "sentence": ["a", "b"], "sentiment": ["p", "n"], "x2": [0, 1]}
    )
    assert read_labeled(named).labels == ("p", "n")


# ----------------------------------------------------------------------------- by content


def test_the_format_comes_from_the_content_and_a_wrong_name_is_noted():
    table = read_table(xlsx_workbook({"S": [["a", "x"], ["b", "y"]]}), name="data.csv")
    assert table.format == "xlsx"
    assert table.notes == (
        "data.csv is an Excel workbook, not CSV text as its name says: it was read as what it is",
    )
    assert read_table(b"a,x\nb,y\n", name="data.parquet").format == "csv"


@pytest.mark.parametrize(
    "raw", [b"%PDF-1.7\n%\xe2\xe3", b"\x1f\x8b\x08\x00", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00"]
)
def test_a_file_of_another_kind_says_what_it_looks_like(raw):
    assert read_error(raw, name="data.csv") == sniff_bytes(raw).refusal


def test_a_folder_is_not_a_data_file(tmp_path):
    assert read_error(tmp_path) == (f"{tmp_path} is a folder: expected a data file")


# ----------------------------------------------------------------------------- texts to predict


def test_texts_to_predict_come_from_the_text_column_of_any_format():
    book = xlsx_workbook({"S": [["text", "label"], ["good", "pos"], ["bad", "neg"]]})
    assert read_texts(book, name="b.xlsx", header=True).labels == ("pos", "neg")
    got = read_texts(parquet_bytes(FOUR), name="r.parquet", text_column="comment")
    assert got.texts == ("loved it", "never again", "fine") and got.labels is None
    lines = read_texts(jsonl([{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]), name="t.jsonl")
    assert (lines.texts, lines.labels) == (("a", "b"), None)

"""Tests for core.data.table: choosing the text and label columns of a Table (by name, number or
the usual names), the header-row rule of wide tables, and the errors of a choice, on files made
here and read with core.data.files."""

from __future__ import annotations

import pickle

import pytest

from core.data.files import read_labeled, read_table
from core.data.table import HeaderRowError, Nested
from tests.helpers import parquet_bytes, read_error, xlsx_workbook

FOUR = {
    "id": [10, 11, 12],
    "comment": ["loved it", "never again", "fine"],
    "score": [0.93, 0.12, 0.5],
    "rating": ["good", "bad", "good"],
}


def test_a_header_row_of_a_wide_sheet_is_caught_whichever_columns_are_chosen():
    rows = [["id", "review", "stars", "source"], [1, "fine", 4, "web"], [2, "bad", 1, "app"]]
    with pytest.raises(HeaderRowError) as info:
        read_labeled(xlsx_workbook({"S": rows}), text_column="B", label_column="C")
    assert info.value.where == "sheet 'S', row 1"
    assert (info.value.text, info.value.label) == ("review", "stars")
    # A first row with a number in it, or a value seen again in its column, is data.
    for first in (["id", "review", "stars", 3], ["id", "review", "stars", "web"]):
        data = read_labeled(
            xlsx_workbook({"S": [first, *rows[1:]]}), text_column="B", label_column="C"
        )
        assert data.rows == (1, 2, 3)


def test_column_choice_errors_name_the_row_and_column():
    raw = parquet_bytes({**FOUR, "embedding": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]})
    table = read_table(raw)
    assert table.cells[0][4] == Nested("[2 items]", "a list")
    kept = pickle.loads(pickle.dumps(table))  # as the app's cache keeps it
    assert kept == table and kept.cells[0][4].kind == "a list"
    assert read_error(raw, text_column="embedding", label_column="rating") == (
        "row 1: the column 'embedding' holds a list, not a text: choose another column"
    )
    assert read_error(raw, text_column="comment", label_column="comments") == (
        "no column 'comments' in the file: it has 'id', 'comment', 'score', 'rating', 'embedding'"
    )
    assert read_error(raw, text_column="comment", label_column="Comment") == (
        "the text and the label must be different columns: both are 'comment'"
    )
    assert read_error(raw, text_column="comment") == (
        "choose the label column too: 'id', 'comment', 'score', 'rating', 'embedding'"
    )


def test_csv_columns_chosen_by_name_or_number():
    raw = b"id,text,label,notes\n1,good,pos,\n2,bad,neg,checked\n"
    data = read_labeled(raw, header=True)  # "text" and "label" by name
    assert (data.texts, data.labels, data.rows) == (("good", "bad"), ("pos", "neg"), (2, 3))
    assert read_labeled(raw, header=True, text_column="4", label_column="label").texts == (
        "",
        "checked",
    )
    assert read_error(b"id,text,label\n1,good,pos\n2,bad,neg,x\n", header=True) == (
        "row 3: expected 3 columns (id, text, label), found 4 "
        "(put texts that contain a comma in double quotes)"
    )
    unnamed = b"1,good,pos\n2,bad,neg\n3,fine,pos,x\n"
    good = b"1,good,pos\n2,bad,neg\n"
    assert read_labeled(good, text_column="2", label_column="3").texts == ("good", "bad")
    assert read_error(unnamed, text_column="2", label_column="3") == (
        "row 3: expected 3 columns (as in row 1), found 4 "
        "(put texts that contain a comma in double quotes)"
    )


# A support-ticket export (issue 26): an id, the text, the intent and a date, with no usual name
# for the text column. Two dates: fewer distinct values than the three intents.
INTENTS = ["refund", "card_lost", "delivery"]
SUBJECTS = ["I was charged twice", "my card is lost, please block it", "where is my parcel"]
TICKETS = [["ticket_id", "subject", "intent", "created"]] + [
    [1000 + i, f"order {i}: {SUBJECTS[i % 3]}", INTENTS[i % 3], f"2024-03-0{i % 2 + 1}"]
    for i in range(12)
]


def test_the_columns_offered_first_are_the_longest_texts_and_a_few_valued_label():
    book = read_table(xlsx_workbook({"Tickets": TICKETS}), header=True)
    assert book.columns == ("ticket_id", "subject", "intent", "created")
    assert book.default_columns() is None  # the names do not settle it
    # The app's selects, the command line and the Playground: the same offer.
    assert book.suggested_columns() == (1, 2)
    assert book.text_and_label_columns() == (1, 2)  # "intent" is a usual label name
    # Named "label" and "date" (a CLI user's --header): the same.
    relabelled = [["ticket_id", "subject", "label", "date"], *TICKETS[1:]]
    table = read_table(xlsx_workbook({"S": relabelled}), header=True)
    assert table.suggested_columns() == (1, 2) and table.text_and_label_columns() == (1, 2)
    # No usual names at all: the texts are still the longest cells, the label the fewest
    # values that repeat (the ids never repeat; the dates repeat more but are dates).
    plain = [["id", "what", "kind", "when"]] + TICKETS[1:]
    table = read_table(xlsx_workbook({"S": plain}), header=True)
    assert table.suggested_columns() == (1, 2)
    assert table.text_and_label_columns() == (1, None)  # "kind" is no usual label name
    # Read without a header, a sheet's columns are its letters: the same choice.
    assert read_table(xlsx_workbook({"S": TICKETS[1:]})).suggested_columns() == (1, 2)


def test_a_wide_file_whose_first_row_names_its_columns_asks_for_the_header_option():
    # Before the columns are chosen, the first complaint is the header row (--header is the fix),
    # not "choose the columns" nor "expected 2 columns".
    expected = "looks like a header ('subject', 'intent'): use the header option (--header) or "
    for raw, where in (
        (xlsx_workbook({"Tickets": TICKETS}), "sheet 'Tickets', row 1 "),
        ("\n".join(",".join(map(str, row)) for row in TICKETS).encode(), "row 1 "),
    ):
        with pytest.raises(HeaderRowError) as info:
            read_labeled(raw)
        assert str(info.value) == where + expected + "remove it"
    # A first row of data is not mistaken for one: the usual error stays.
    assert read_error(xlsx_workbook({"S": TICKETS[1:]})) == (
        "sheet 'S' has 4 columns ('A', 'B', 'C', 'D'): choose the text and label columns "
        "(--text-column, --label-column)"
    )

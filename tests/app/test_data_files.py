"""The Data page and the Playground with the files people have (AppTest): a first row that looks
like a header gets one button and the preview updates; a workbook's sheets and a wide file's
columns are chosen with selects; a JSON file renamed .csv is read with a note; the Playground
embeds a workbook's text column."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from core.data.files import read_table
from tests.app.helpers import go, open_app, shown, unescape
from tests.helpers import csv_bytes, tiny_pairs, xlsx_workbook

PAIRS = tiny_pairs(6)  # 12 rows, two labels


def upload(at, name: str, raw: bytes, which: str = "train"):
    at.file_uploader(key=f"upload_{which}").set_value((name, raw, "application/octet-stream"))
    return at.run()


def buttons(at) -> list[str]:
    return [b.key for b in at.button]


def test_a_header_row_gets_one_button_and_the_preview_updates(tmp_path, monkeypatch):
    at = upload(
        open_app(tmp_path / "runs", monkeypatch),
        "train.csv",
        csv_bytes([("text", "label"), *PAIRS]),
    )
    assert not at.exception and not at.error
    [warning] = [unescape(w.value) for w in at.warning]
    assert warning == (
        "**Training file:** Row 1 of train.csv looks like a header ('text', 'label'), "
        "not an example."
    )
    assert at.button(key="train_use_header").label == "Use the first row as the header"
    raw = at.dataframe[0].value  # the file's first rows as read, the header among them
    assert list(raw["row"]) == [1, 2, 3, 4, 5] and raw.iloc[0, 1:].tolist() == ["text", "label"]
    assert "review_data" not in buttons(at)

    at.button(key="train_use_header").click().run()
    assert not at.exception and not at.error and not at.warning
    assert "train_use_header" not in buttons(at)
    assert at.checkbox(key="train_header").value is True
    assert "train.csv · 12 rows · 2 labels" in shown(at)
    preview = at.dataframe[0].value
    assert list(preview["row"][:2]) == [2, 3] and preview["text"][0] == PAIRS[0][0]
    # The header's names are now the choice of text and label columns.
    assert (at.selectbox(key="train_text").value, at.selectbox(key="train_label").value) == (
        "text",
        "label",
    )
    assert at.selectbox(key="train_text").options == ["text", "label"]
    at.button(key="review_data").click().run()
    assert not at.exception and not at.error


def test_a_workbook_with_a_title_and_four_columns(tmp_path, monkeypatch):
    rows = [["Reviews, March"], ["id", "review", "stars", "source"]]
    rows += [[i, text, label, "web"] for i, (text, label) in enumerate(PAIRS)]
    book = xlsx_workbook(
        {"Notes": [["Labelled by the support team"]], "Reviews": rows},
        merged={"Reviews": ["A1:D1"]},
    )
    at = upload(open_app(tmp_path / "runs", monkeypatch), "reviews.xlsx", book)
    assert not at.exception
    # The first sheet has one column of notes: not data, and the sheet select says which sheet.
    assert at.selectbox(key="train_sheet").options == ["Notes", "Reviews"]
    at.selectbox(key="train_sheet").select("Reviews").run()
    assert not at.exception and not at.error
    [warning] = [unescape(w.value) for w in at.warning]
    assert warning.startswith("**Training file:** Sheet 'Reviews', row 2 of reviews.xlsx looks")

    at.button(key="train_use_header").click().run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="train_text").options == ["id", "review", "stars", "source"]
    # Offered first: a usual name for the texts, the column after it for the labels.
    assert (at.selectbox(key="train_text").value, at.selectbox(key="train_label").value) == (
        "review",
        "stars",
    )
    assert not at.exception and not at.error
    assert "reviews.xlsx (sheet 'Reviews') · 12 rows · 2 labels" in shown(at)
    preview = at.dataframe[0].value
    assert list(preview["row"][:2]) == [3, 4]  # spreadsheet rows
    assert list(preview["label"][:2]) == [PAIRS[0][1], PAIRS[1][1]]


def test_a_ticket_export_offers_its_text_and_intent_columns_after_the_header_click(
    tmp_path, monkeypatch
):
    # Issue 26: after "Use the first row as the header" the text column was `ticket_id`.
    rows = [["ticket_id", "subject", "intent", "created"]]
    rows += [[1000 + i, t, lab, f"2024-03-0{i % 2 + 1}"] for i, (t, lab) in enumerate(PAIRS)]
    book = xlsx_workbook({"T": rows})
    at = upload(open_app(tmp_path / "runs", monkeypatch), "tickets.xlsx", book)
    assert not at.exception and not at.error
    [warning] = [unescape(w.value) for w in at.warning]
    assert warning == (
        "**Training file:** Sheet 'T', row 1 of tickets.xlsx looks like a header ('subject', "
        "'intent'), not an example."
    )
    at.button(key="train_use_header").click().run()
    assert not at.exception and not at.error and not at.warning
    # The longest texts and the column of few values; not the id, not the date.
    assert (at.selectbox(key="train_text").value, at.selectbox(key="train_label").value) == (
        "subject",
        "intent",
    )
    assert "tickets.xlsx · 12 rows · 2 labels" in shown(at)


def test_parquet_columns_are_chosen_and_json_renamed_csv_is_noted(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    pq.write_table(
        pa.table(
            {
                "id": list(range(len(PAIRS))),
                "comment": [t for t, _ in PAIRS],
                "score": [0.5] * len(PAIRS),
                "verdict": [lab for _, lab in PAIRS],
            }
        ),
        buffer,
    )
    at = upload(open_app(tmp_path / "runs", monkeypatch), "reviews.parquet", buffer.getvalue())
    assert at.selectbox(key="train_text").options == ["id", "comment", "score", "verdict"]
    at.selectbox(key="train_text").select("comment").run()
    at.selectbox(key="train_label").select("verdict").run()
    assert not at.exception and not at.error
    assert "reviews.parquet · 12 rows · 2 labels" in shown(at)

    renamed = json.dumps([{"text": t, "label": lab} for t, lab in PAIRS]).encode()
    at = upload(at, "export.csv", renamed)
    assert not at.exception and not at.error
    assert [unescape(w.value) for w in at.warning] == [
        read_table(renamed, name="export.csv").notes[0]
    ]
    assert "export.csv · 12 rows · 2 labels" in shown(at)


def test_the_playground_embeds_the_text_column_of_a_workbook(tmp_path, monkeypatch):
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    at.segmented_control(key="embed_source").set_value("Upload a file").run()
    at.checkbox(key="embed_header").check().run()
    book = xlsx_workbook({"S": [["id", "text"], [1, "a good film"], [2, "a dull film"]]})
    at.file_uploader(key="embed_upload").set_value(("texts.xlsx", book, "application/xlsx")).run()
    assert not at.exception and not at.error
    assert "2 vectors of 384 dimensions" in shown(at)

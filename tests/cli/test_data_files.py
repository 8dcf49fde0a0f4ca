"""The files people have on the command line: review / evaluate / train take an Excel workbook,
JSON Lines, JSON records or Parquet (--sheet, --header, --text-column, --label-column), classify /
embed --file their text column; the reader's errors are one `error:` line, its notes warnings."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from core.cli import main
from core.cli.parser import build_parser
from core.data.files import read_table
from tests.helpers import tiny_pairs, xlsx_workbook

PAIRS = tiny_pairs(6)  # 12 rows, two labels


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out, err


def reviewed_rows(out: str) -> int:
    report = json.loads(out)
    return report["train_rows"] + report["valid_rows"]


def test_review_reads_a_workbooks_chosen_sheet_header_and_columns(tmp_path, capsys):
    book = tmp_path / "book.xlsx"
    book.write_bytes(
        xlsx_workbook(
            {
                "About": [["Labelled in March"]],
                "Data": [["Reviews"], ["id", "review", "stars"]]
                + [[i, text, label] for i, (text, label) in enumerate(PAIRS)],
            },
            merged={"Data": ["A1:C1"]},  # a title across the table, above the header
        )
    )
    code, out, err = run_cli(
        capsys, "review", str(book), "--sheet", "Data", "--header", "--label-column", "stars",
        "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert reviewed_rows(out) == len(PAIRS)
    # Without --header the header row is caught, with its sheet and row.
    code, _, err = run_cli(
        capsys, "review", str(book), "--sheet", "Data", "--text-column", "B", "--label-column", "C"
    )
    assert code == 2
    assert err == (
        "error: sheet 'Data', row 2 looks like a header ('review', 'stars'): "
        "use the header option (--header) or remove it\n"
    )


def test_review_reads_parquet_columns_and_json_renamed_csv(tmp_path, capsys):
    table = pa.table(
        {
            "id": list(range(len(PAIRS))),
            "comment": [text for text, _ in PAIRS],
            "score": [0.5] * len(PAIRS),
            "rating": [label for _, label in PAIRS],
        }
    )
    parquet = tmp_path / "reviews.parquet"
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    parquet.write_bytes(buffer.getvalue())
    code, out, _ = run_cli(
        capsys, "review", str(parquet), "--text-column", "comment", "--label-column", "rating",
        "--json",
    )  # fmt: skip
    assert code == 0 and reviewed_rows(out) == len(PAIRS)
    # Without a choice: the app's first offer (the longest texts; few distinct values, and the
    # score column has one), said in a warning.
    code, out, err = run_cli(capsys, "review", str(parquet), "--json")
    assert code == 0 and reviewed_rows(out) == len(PAIRS)
    assert json.loads(out)["classes"] == ["negative", "positive"]
    assert err == (
        "warning: the file has 4 columns: texts read from 'comment' (the longest texts), labels "
        "from 'rating' (few distinct values); choose others with --text-column and "
        "--label-column\n"
    )

    renamed = tmp_path / "export.csv"
    renamed.write_text(json.dumps([{"text": t, "label": lab} for t, lab in PAIRS]), "utf-8")
    code, out, err = run_cli(capsys, "review", str(renamed), "--json")
    assert code == 0 and reviewed_rows(out) == len(PAIRS)
    assert err == f"warning: {read_table(renamed).notes[0]}\n"


def test_embed_file_reads_the_text_field_of_json_lines(tmp_path, capsys):
    lines = tmp_path / "texts.jsonl"
    lines.write_text(
        '{"id": 1, "text": "naïve café ☕"}\n{"id": 2, "text": "中文评论"}\n', encoding="utf-8"
    )
    code, out, _ = run_cli(capsys, "embed", "small", "--file", str(lines), "--json")
    assert code == 0 and json.loads(out)["texts"] == ["naïve café ☕", "中文评论"]


def test_evaluate_takes_the_same_file_options():
    args = build_parser().parse_args(
        ["evaluate", "ft-x", "test.xlsx", "--sheet", "Test", "--text-column", "review"]
    )
    assert (args.sheet, args.text_column, args.label_column) == ("Test", "review", None)


TICKETS = [["ticket_id", "subject", "intent", "created"]] + [
    [1000 + i, f"order {i}: {text}", label, f"2024-03-0{i % 2 + 1}"]
    for i, (text, label) in enumerate(PAIRS)
]


def test_a_workbook_with_a_header_row_asks_for_header_then_reads_the_likely_columns(
    tmp_path, capsys
):
    book = tmp_path / "tickets.xlsx"
    book.write_bytes(xlsx_workbook({"Tickets": TICKETS}))
    code, out, err = run_cli(capsys, "review", str(book))
    assert (code, out) == (2, "")
    assert err == (
        "error: sheet 'Tickets', row 1 looks like a header ('subject', 'intent'): use the header "
        "option (--header) or remove it\n"
    )
    # With --header: the subject is the text, the intent the label (not the id, not the date).
    code, out, err = run_cli(capsys, "review", str(book), "--header", "--json")
    assert code == 0 and reviewed_rows(out) == len(PAIRS)
    assert json.loads(out)["classes"] == ["negative", "positive"]
    assert err.startswith(
        "warning: the file has 4 columns: texts read from 'subject' (the longest texts), labels "
        "from 'intent' (few distinct values)"
    )
    # The same rows as a CSV: the header row is the first complaint there too.
    csv_file = tmp_path / "tickets.csv"
    with csv_file.open("w", newline="", encoding="utf-8") as out_file:
        csv.writer(out_file).writerows(TICKETS)
    code, _, err = run_cli(capsys, "review", str(csv_file))
    assert code == 2 and err.startswith("error: row 1 looks like a header ('subject', 'intent')")


def test_review_previews_the_split_of_the_share_and_seed_given(tmp_path, capsys):
    rows = [(f"text {label} {i}", f"intent {label:03}") for i in range(3) for label in range(150)]
    data = tmp_path / "intents.csv"
    data.write_text("\n".join(f"{text},{label}" for text, label in rows), "utf-8")
    code, out, _ = run_cli(capsys, "review", str(data))
    assert code == 0
    assert "validation examples: 150 (automatic split by label, 20% asked, seed 42)" in out
    assert "info (validation): the automatic split holds out 150 of 450 rows (33%)" in out
    assert "warning (validation): all 150 labels have fewer than 5 validation rows" in out
    code, out, _ = run_cli(
        capsys, "review", str(data), "--valid-fraction", "0.5", "--seed", "3", "--json"
    )
    report = json.loads(out)
    assert code == 0 and (report["valid_rows"], report["seed"]) == (225, 3)

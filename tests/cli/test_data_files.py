"""The files people have on the command line: review / evaluate / train take an Excel workbook,
JSON Lines, JSON records or Parquet (--sheet, --header, --text-column, --label-column), classify /
embed --file their text column; the reader's errors are one `error:` line, its notes warnings."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.cli import main
from core.cli.parser import build_parser
from core.data.files import read_table
from core.errors import DataError
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
    code, _, err = run_cli(capsys, "review", str(parquet))
    with pytest.raises(DataError) as info:
        read_table(parquet).labeled()
    assert (code, err) == (2, f"error: {info.value}\n")

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

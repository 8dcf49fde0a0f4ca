"""Read the labelled files people have: CSV/TSV, Excel (.xlsx), JSON Lines, JSON records and
Parquet, told apart by their content as well as their name, into one Table (core.data.table:
cells and the row number of each as the user sees it, then LabeledTexts with the text and label
columns chosen). The app, the command line and the texts to predict all read files here; each
format's reader is in core.data.readers."""

from __future__ import annotations

import json
import os
import re
from typing import Literal

from core.data.labeled import LabeledTexts
from core.data.readers.delimited import read_csv
from core.data.readers.excel import read_xlsx
from core.data.readers.json_records import json_by_content, read_json
from core.data.readers.parquet import read_parquet
from core.data.table import JSON_FORMATS, TEXT_FORMATS, HeaderRowError, Table
from core.errors import DataError
from core.io import decode_text, sniff_bytes, sniff_file

MAX_FILE_BYTES = 200 * 1024 * 1024
"""Largest data file the readers accept: the whole file is held in memory."""
FORMATS = ("csv", "tsv", "xlsx", "jsonl", "json", "parquet")
UNPACK_RATIO = 25
"""A workbook's XML or a Parquet file's columns may unpack to at most this many times the size
limit of the file (5 GB for 200 MB; workbooks of texts unpack to 5 to 18 times their size): a
small compressed file can unpack to far more than any memory (a "zip bomb"), and the app may be
shared."""
_BY_EXTENSION = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
EXTENSIONS = tuple(extension.lstrip(".") for extension in _BY_EXTENSION)
"""The file-name endings the reader knows (what an upload box accepts)."""

# ----------------------------------------------------------------------------- reading


def read_labeled(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    header: bool = False,
    sheet: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    multi_label: bool = False,
    separator: str = "|",
) -> LabeledTexts:
    """Read a labelled file of any format Embedtune reads (see `read_table`) into LabeledTexts.
    `multi_label`: each row's labels are a list, or one cell joined by `separator`
    (core.data.multilabel)."""
    table = read_table(source, name=name, header=header, sheet=sheet, max_bytes=max_bytes)
    if multi_label:
        from core.data.multilabel import labeled_multi

        return labeled_multi(table, text_column, label_column, separator)
    return table.labeled(text_column, label_column)


def read_labeled_csv(
    source: str | os.PathLike[str] | bytes,
    *,
    header: bool = False,
    name: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> LabeledTexts:
    """Read a two-column (text, label) CSV or TSV file, from a path or the file's bytes, as CSV
    whatever its bytes are (`read_labeled` reads every format).

    Labels stay strings; texts and labels are stripped of surrounding whitespace. Rows with an
    empty text or label are kept (the review flags them); rows with nothing in them are skipped.
    Row numbers are the physical line where each record starts, counting a header line.
    """
    table = read_table(source, header=header, name=name, max_bytes=max_bytes, csv_only=True)
    return table.labeled()


def read_table(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    header: bool | Literal["infer"] = False,
    sheet: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    csv_only: bool = False,
) -> Table:
    """Read a file, from a path or its bytes, as a Table.

    The format comes from the content first (an Excel workbook, Parquet, JSON) and the name
    second: an .xlsx renamed .csv is read as a workbook, a JSON file renamed .csv as JSON when it
    holds records (with a note saying so). `header`: the first row names the columns (CSV and
    spreadsheets); "infer" reads it so when it looks like column names (the rule of
    `HeaderRowError`), with a note saying so. `sheet`: the sheet to read (default: the first
    visible one). `csv_only` reads the bytes as CSV/TSV text whatever they are
    (`read_labeled_csv`)."""
    if header == "infer":
        if not isinstance(source, bytes):  # read once, parsed once or twice
            path = os.fspath(source)
            name = name if name is not None else os.path.basename(path)
            source = _read_bytes(path, max_bytes, "a CSV file" if csv_only else "a data file")
        table = read_table(source, name=name, sheet=sheet, max_bytes=max_bytes, csv_only=csv_only)
        found = header_row(table)
        if found is None:
            return table
        table = read_table(
            source, name=name, header=True, sheet=sheet, max_bytes=max_bytes, csv_only=csv_only
        )
        return table.with_note(
            f"{found.where} looks like column names ({found.text!r}, {found.label!r}), so it "
            "was read as the header",
        )
    if isinstance(source, bytes):
        raw = source
        name = name if name is not None else ""
    else:
        path = os.fspath(source)
        name = name if name is not None else os.path.basename(path)
        raw = _read_bytes(path, max_bytes, "a CSV file" if csv_only else "a data file")
    _check_size(len(raw), max_bytes)
    if csv_only:
        return read_csv(decode_text(raw), name, header)
    extension = os.path.splitext(name)[1].lower()
    by_name = _BY_EXTENSION.get(extension)
    sniffed = sniff_bytes(raw)
    if sniffed.kind == "xlsx":
        table = read_xlsx(raw, name, header, sheet, max_bytes * UNPACK_RATIO)
    elif sniffed.kind == "parquet":
        table = read_parquet(raw, name, max_bytes * UNPACK_RATIO)
    elif sniffed.kind != "text":
        raise DataError(sniffed.refusal)
    else:
        content = decode_text(raw)
        if by_name in JSON_FORMATS:
            table = read_json(content, name, expected=None)
        else:
            table = json_by_content(content, name) or read_csv(content, name, header)
    families = (TEXT_FORMATS, JSON_FORMATS)
    same = by_name == table.format or any({by_name, table.format} <= set(f) for f in families)
    if by_name is not None and not same and not table.notes:
        table = table.with_note(
            f"{name} is {_DESCRIBED[table.format]}, not {_DESCRIBED[by_name]} as "
            "its name says: it was read as what it is",
        )
    return table


def header_row(table: Table) -> HeaderRowError | None:
    """The complaint `Table.labeled` makes when the table's first row looks like column names
    while it was read without a header (None when it does not, or the table has names)."""
    if table.named or not table.cells:
        return None
    try:
        table.labeled()
    except HeaderRowError as exc:
        return exc
    except DataError:
        pass  # columns to choose, or another fault: told when the columns are read
    return None


def file_format(path: str | os.PathLike[str]) -> str:
    """The format `read_table` reads a file on disk as, from its first bytes and its name
    without reading it whole (for readers that stream): one of FORMATS, or "other"."""
    sniffed = sniff_file(path)
    if sniffed.kind != "text":
        return sniffed.kind if sniffed.kind in FORMATS else "other"
    by_name = _BY_EXTENSION.get(os.path.splitext(os.fspath(path))[1].lower())
    if by_name in JSON_FORMATS:
        return by_name
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    if text.startswith("{"):
        try:
            if isinstance(json.loads(text.split("\n", 1)[0]), dict):
                return "jsonl"
        except ValueError:
            pass
    elif re.match(r"\[\s*[{\[]", text):
        return "json"
    return by_name if by_name in TEXT_FORMATS else "csv"


def describe_format(fmt: str) -> str:
    """ "an Excel workbook", "JSON Lines", ...: a format as a message names it."""
    return _DESCRIBED.get(fmt, "another kind of file")


_DESCRIBED = {
    "csv": "CSV text",
    "tsv": "TSV text",
    "xlsx": "an Excel workbook",
    "jsonl": "JSON Lines",
    "json": "JSON",
    "parquet": "a Parquet file",
}


def _read_bytes(path: str, max_bytes: int, expected: str) -> bytes:
    try:
        # Check the size before reading so an oversized file is never loaded into memory.
        _check_size(os.path.getsize(path), max_bytes)
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder: expected {expected}") from None
    except PermissionError:
        raise DataError(f"cannot read {path}: permission denied") from None


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DataError(
            f"the file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB limit "
            "(MAX_FILE_BYTES): sample it or split it into smaller files"
        )

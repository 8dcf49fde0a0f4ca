"""Read the labelled files people have: CSV/TSV, Excel (.xlsx), JSON Lines, JSON records and
Parquet, told apart by their content as well as their name, into one Table (core.data.table:
cells and the row number of each as the user sees it, then LabeledTexts with the text and label
columns chosen). The app, the command line and the texts to predict all read files here."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from core.data.labeled import MAX_FILE_BYTES, LabeledTexts
from core.data.table import (
    JSON_FORMATS,
    RECORD_EXAMPLE,
    TEXT_FORMATS,
    HeaderRowError,
    Nested,
    Table,
    quoted,
)
from core.errors import DataError
from core.io import decode_text, sniff_bytes, sniff_file

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
        return _with_note(
            table,
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
        return _read_csv(decode_text(raw), name, header)
    extension = os.path.splitext(name)[1].lower()
    by_name = _BY_EXTENSION.get(extension)
    sniffed = sniff_bytes(raw)
    if sniffed.kind == "xlsx":
        table = _read_xlsx(raw, name, header, sheet, max_bytes * UNPACK_RATIO)
    elif sniffed.kind == "parquet":
        table = _read_parquet(raw, name, max_bytes * UNPACK_RATIO)
    elif sniffed.kind != "text":
        raise DataError(sniffed.refusal)
    else:
        content = decode_text(raw)
        if by_name in JSON_FORMATS:
            table = _read_json(content, name, expected=None)
        else:
            table = _json_by_content(content, name) or _read_csv(content, name, header)
    families = (TEXT_FORMATS, JSON_FORMATS)
    same = by_name == table.format or any({by_name, table.format} <= set(f) for f in families)
    if by_name is not None and not same and not table.notes:
        table = _with_note(
            table,
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


def _with_note(table: Table, note: str) -> Table:
    from dataclasses import replace

    return replace(table, notes=(*table.notes, note))


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


def _uniquequoted(names: Sequence[str], fallback: Sequence[str]) -> tuple[str, ...]:
    """Header cells as column names: an empty one takes the fallback name, a repeated one a
    number ("label", "label (2)")."""
    seen: Counter[str] = Counter()
    out = []
    for name, spare in zip(names, fallback, strict=True):
        name = name.strip() or spare
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(out)


# ----------------------------------------------------------------------------- CSV / TSV


def _read_csv(content: str, name: str, header: bool) -> Table:
    fmt = "tsv" if _is_tsv(name, content) else "csv"
    records = _parse_csv(content, "\t" if fmt == "tsv" else ",")
    if header and records:
        first = records[0][1]
        names = _uniquequoted(first, [f"column {i + 1}" for i in range(len(first))])
        records = records[1:]
    else:
        width = len(records[0][1]) if records else 2
        names = tuple(f"column {i + 1}" for i in range(width))
    return Table(
        name=name,
        format=fmt,
        columns=names,
        cells=tuple(fields for _, fields in records),
        rows=tuple(row for row, _ in records),
        named=header,
        header=header,
    )


def _is_tsv(name: str, text: str) -> bool:
    """Tab-separated when the name ends in .tsv, or the first record has tabs and no commas."""
    if name.lower().endswith((".tsv", ".tab")):
        return True
    first = _first_record(text)
    return "\t" in first and "," not in first


def _first_record(text: str, max_lines: int = 100) -> str:
    """The raw text of the first non-blank record (a quoted field may span lines)."""
    lines: list[str] = []
    for line in io.StringIO(text, newline=""):
        if lines or line.strip():
            lines.append(line)
            if _unclosed_quote_line(lines, ",") < 0 or len(lines) >= max_lines:
                break
    return "".join(lines)


def _parse_csv(text: str, delimiter: str) -> list[tuple[int, tuple[str, ...]]]:
    """Records as (row, fields), blank records skipped; row is the line where a record starts."""
    consumed: list[str] = []  # the physical lines of the record being read, to locate quotes

    def lines() -> Iterator[str]:
        # newline="" splits on \n, \r\n and \r only (not U+0085 as str.splitlines would).
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    records: list[tuple[int, tuple[str, ...]]] = []
    while True:
        start = reader.line_num + 1
        consumed.clear()
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            # In practice only the field size limit: an unclosed quote, or a giant text.
            at = _unclosed_quote_line(consumed, delimiter)
            if at < 0:
                raise DataError(
                    f"row {start}: cannot read this row ({err}): shorten the text"
                ) from None
            raise DataError(
                f"row {start + at}: a quote opens here and is not closed before the field grows "
                f'too long ({err}): close the quote, or write a quote inside a quoted text as ""'
            ) from None
        if all(not field.strip() for field in fields):
            continue  # a blank line, or an empty spreadsheet row written as ","
        if reader.line_num > start and (at := _unclosed_quote_line(consumed, delimiter)) >= 0:
            # Python's csv reader ends a quoted field at the end of the file without complaint.
            raise DataError(
                f"row {start + at}: a quote opens here and is never closed, so it swallows the "
                f'rest of the file: close the quote, or write a quote inside a quoted text as ""'
            )
        records.append((start, tuple(fields)))
    return records


def _unclosed_quote_line(lines: list[str], delimiter: str) -> int:
    """Line index (0-based) where a still-open quoted field begins, or -1 if all quotes close.

    Follows the csv module's non-strict rules: a quote opens a field only at its start, and a
    doubled quote inside a quoted field stands for one quote character.
    """
    ends_field = (delimiter, "\r", "\n")
    in_quotes = False
    after_quote = False  # just saw a quote inside a quoted field: closing, or the first of ""
    at_field_start = True
    opened = -1
    for index, line in enumerate(lines):
        for char in line:
            if in_quotes:
                if after_quote:
                    after_quote = False
                    if char != '"':
                        in_quotes = False  # the previous quote closed the field
                        at_field_start = char in ends_field
                elif char == '"':
                    after_quote = True
            elif char == '"' and at_field_start:
                in_quotes, opened = True, index
                at_field_start = False
            else:
                at_field_start = char in ends_field
    if in_quotes and not after_quote:
        return opened
    return -1


# ----------------------------------------------------------------------------- cells


def _number(value: float) -> str:
    """A number as a spreadsheet shows it: 3 not 3.0, at most 15 significant digits."""
    if value != value:  # NaN: Parquet and pandas write it for a missing number
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def _cell(value: Any, true_false: tuple[str, str] = ("true", "false")) -> str:
    """One value of a spreadsheet, a JSON record or a Parquet column as the text a person reads."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return true_false[0] if value else true_false[1]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        scalars = all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
        items = tuple(_cell(v) for v in value) if scalars else None
        return Nested(f"[{len(value)} items]", "a list", items)
    if isinstance(value, dict):
        return Nested(f"{{{len(value)} fields}}", "an object")
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return Nested(f"<{len(value)} bytes>", "binary data")
    return str(value)  # Decimal, timedelta, ...


# ----------------------------------------------------------------------------- Excel


def _check_unpacked(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise DataError(
            f"the {what} unpacks to {size / 2**20:.0f} MB, over the {limit / 2**20:g} MB a file "
            "may unpack to (UNPACK_RATIO times MAX_FILE_BYTES): save a smaller part of it"
        )


def _read_xlsx(raw: bytes, name: str, header: bool, sheet: str | None, unpacked: int) -> Table:
    """The first visible sheet (or `sheet`) through python-calamine: the values Excel saved,
    so a formula cell reads as its cached result. A cell merged down over several rows reads
    as its value on each; a cell merged across the whole table above it is a title, skipped."""
    import zipfile

    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    with zipfile.ZipFile(io.BytesIO(raw)) as archive:  # sniff_bytes opened it already
        _check_unpacked(sum(item.file_size for item in archive.infolist()), unpacked, "workbook")

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        worksheets = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        sheets = tuple(m.name for m in worksheets)
        if sheet is None:
            visible = [m.name for m in worksheets if m.visible == SheetVisibleEnum.Visible]
            if not visible and not sheets:
                raise DataError(
                    "the workbook has no sheets with cells: expected rows of text, label"
                )
            sheet = (visible or list(sheets))[0]
        elif sheet not in sheets:
            raise DataError(f"no sheet {sheet!r} in the workbook: its sheets are {quoted(sheets)}")
        found = book.get_sheet_by_name(sheet)
        # Padded from A1, so a value's position is its spreadsheet row and column.
        values = [list(row) for row in found.to_python(skip_empty_area=False)]
        merged = list(found.merged_cell_ranges or [])
    except CalamineError as exc:
        raise DataError(
            f"the file looks like an Excel workbook (.xlsx) but cannot be read ({exc}): "
            "open it in Excel, save it again and try again"
        ) from None
    cells = [[_cell(v, ("TRUE", "FALSE")) for v in row] for row in values]
    filled = {c for row in cells for c, v in enumerate(row) if v.strip()}
    used = list(range(min(filled), max(filled) + 1)) if filled else []
    titles: set[int] = set()
    if used:
        first_row = next(r for r, row in enumerate(cells) if any(v.strip() for v in row))
        for (r0, c0), (r1, c1) in merged:
            if c0 <= used[0] and c1 >= used[-1] and c1 > c0 and r0 == first_row:
                titles.update(range(r0, r1 + 1))  # a title across the table, above it
            elif c0 == c1:
                for r in range(r0 + 1, min(r1, len(cells) - 1) + 1):
                    if c0 < len(cells[r]) and not cells[r][c0]:
                        cells[r][c0] = cells[r0][c0]
    data = [
        (r, row) for r, row in enumerate(cells) if r not in titles and any(v.strip() for v in row)
    ]
    names: tuple[str, ...]
    letters = tuple(_letters(c) for c in used)
    if header and data:
        head = data[0][1]
        names = _uniquequoted([head[c] if c < len(head) else "" for c in used], letters)
        data = data[1:]
    else:
        names = letters
    return Table(
        name=name,
        format="xlsx",
        columns=names or ("A", "B"),
        cells=tuple(tuple(row[c] if c < len(row) else "" for c in used) for _, row in data),
        rows=tuple(r + 1 for r, _ in data),
        named=header,
        header=header,
        sheet=sheet,
        sheets=sheets,
    )


def _letters(column: int) -> str:
    """Spreadsheet column letters of a 0-based column: 0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


# ----------------------------------------------------------------------------- Parquet


def _read_parquet(raw: bytes, name: str, unpacked: int) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(pa.BufferReader(raw)).metadata
        size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        _check_unpacked(size, unpacked, "Parquet file")
        data = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"the file looks like Parquet but cannot be read ({exc}): write it again and try again"
        ) from None
    columns = [[_cell(v) for v in column.to_pylist()] for column in data.columns]
    return Table(
        name=name,
        format="parquet",
        columns=_uniquequoted(
            [str(n) for n in data.column_names], [f"column {i + 1}" for i in range(len(columns))]
        ),
        cells=tuple(zip(*columns, strict=True)) if columns else (),
        rows=tuple(range(1, data.num_rows + 1)),
        named=True,
    )


# ----------------------------------------------------------------------------- JSON


def _json_by_content(content: str, name: str) -> Table | None:
    """A text file that is JSON whatever its name says: its records as a Table (with a note), an
    error when it is JSON but not records, None when it is not JSON (CSV text)."""
    body = content.lstrip()
    if body[:1] == "{":
        try:
            looks_json = isinstance(json.loads(body.split("\n", 1)[0]), dict)  # JSON Lines
        except ValueError:
            looks_json = _parses(content)  # one object over several lines
    elif body[:1] == "[":
        # "[URGENT] server down,bug" is CSV; "[{..." that does not parse is broken JSON.
        looks_json = _parses(content) or re.match(r"\[\s*[{\[]", body) is not None
    else:
        return None
    if not looks_json:
        return None
    table = _read_json(content, name, expected="CSV")
    form = "one record per line" if table.format == "jsonl" else "a list of records"
    return _with_note(table, f"the file is JSON ({form}), not CSV: it was read as JSON records")


def _parses(content: str) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def _read_json(content: str, name: str, expected: str | None) -> Table:
    """JSON Lines (one object per line) or a JSON list of objects; row numbers are the line where
    each record starts. `expected`: the format the name promised, for the message."""
    body = content.lstrip()
    if not body:
        return _records_table([], name, "jsonl")
    if body[0] == "[":
        try:
            value = json.loads(content)
        except json.JSONDecodeError as err:
            raise DataError(
                f"line {err.lineno}: not valid JSON ({err.msg}, column {err.colno})"
            ) from None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise DataError(_not_records(value, expected))
        return _records_table(list(_array_lines(content, value)), name, "json")
    try:  # the whole file as one JSON value: one record, or JSON that holds no records
        whole = json.loads(content)
    except json.JSONDecodeError:
        pass  # JSON Lines (or broken): read line by line below
    else:
        if not isinstance(whole, dict) or any(isinstance(v, list) for v in whole.values()):
            raise DataError(_not_records(whole, expected))
        first = 1 + content.count("\n", 0, len(content) - len(body))
        return _records_table([(first, whole)], name, "jsonl")
    records: list[tuple[int, Any]] = []
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"line {number}: not valid JSON ({err.msg}, column {err.colno}): JSON Lines "
                "holds one whole record per line"
            ) from None
        if not isinstance(value, dict):
            raise DataError(
                f"line {number}: expected a JSON object such as {RECORD_EXAMPLE}, found "
                f"{_json_kind(value)}"
            )
        records.append((number, value))
    return _records_table(records, name, "jsonl")


_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(content: str, index: int) -> int:
    match = _SPACE.match(content, index)
    return match.end() if match else index


def _array_lines(content: str, value: list[Any]) -> Iterator[tuple[int, Any]]:
    """(line, record) for each element of a JSON list already parsed from `content`."""
    decoder = json.JSONDecoder()
    index = _skip_space(content, content.index("[") + 1)
    line = 1 + content.count("\n", 0, index)
    for _ in value:
        record, end = decoder.raw_decode(content, index)
        yield line, record
        start, index = index, _skip_space(content, _skip_space(content, end) + 1)  # past ","
        line += content.count("\n", start, index)


_KINDS = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number"}


def _json_kind(value: Any) -> str:
    """How a message names a JSON value: "one object with the keys 'a', 'b'", "a list of
    strings", "a number"."""
    if isinstance(value, dict):
        keys = list(value)
        shown = quoted(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        return f"one object with the keys {shown}" if keys else "an empty object"
    if isinstance(value, list):
        kinds = sorted({_KINDS.get(type(v), "number" if v is not None else "null") for v in value})
        return f"a list of {' and '.join(k + 's' for k in kinds)}" if kinds else "an empty list"
    if value is None:
        return "null"
    kind = _KINDS.get(type(value), "number")
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _not_records(value: Any, expected: str | None) -> str:
    what = f"the file is JSON ({_json_kind(value)})"
    if expected:
        what += f", not {expected}"
    return (
        f"{what}: expected records such as {RECORD_EXAMPLE}, one per line (JSON Lines) or in a list"
    )


def _records_table(records: list[tuple[int, Any]], name: str, fmt: str) -> Table:
    fields: dict[str, None] = {}
    for _, record in records:
        fields.update(dict.fromkeys(record))
    names = tuple(fields)
    return Table(
        name=name,
        format=fmt,
        columns=names or ("text", "label"),
        cells=tuple(
            tuple(_cell(record[key]) if key in record else None for key in names)
            for _, record in records
        ),
        rows=tuple(line for line, _ in records),
        named=True,
    )

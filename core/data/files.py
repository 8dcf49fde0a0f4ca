"""Read the labelled files people have: CSV/TSV, Excel (.xlsx), JSON Lines, JSON records and
Parquet, told apart by their content as well as their name, into one Table (cells and the row
number of each as the user sees it); then the Table into LabeledTexts with the text and label
columns chosen. The app, the command line and the texts to predict all read files here."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from core.data.labeled import MAX_FILE_BYTES, LabeledTexts
from core.errors import DataError
from core.io import decode_text, sniff_bytes, sniff_file

FORMATS = ("csv", "tsv", "xlsx", "jsonl", "json", "parquet")
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
_TEXT_FORMATS = ("csv", "tsv")  # row and column as the user wrote them; no names of their own
_JSON_FORMATS = ("jsonl", "json")
_RECORD_EXAMPLE = '{"text": ..., "label": ...}'

# A first row is only called a header when its label is one of these words (or its text is one of
# the text words) AND that label occurs nowhere else: real labels repeat, header cells do not.
# The same words find the text and label columns among named ones ("sentence", "sentiment").
_HEADER_LABEL_WORDS = frozenset(
    "label labels class classes category categories target y sentiment intent tag tags topic "
    "label_name class_name".split()
)
_HEADER_TEXT_WORDS = frozenset(
    "text texts sentence sentences review reviews message messages content document documents "
    "utterance utterances query question comment tweet body input x".split()
)

_HEADER_WORDS = _HEADER_LABEL_WORDS | _HEADER_TEXT_WORDS
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?")


class Nested(str):
    """A cell holding a list, an object or binary data (JSON, Parquet): shown in a preview as
    "[3 items]", never read as a text or a label. `kind` names it in messages ("a list")."""

    kind: str

    def __new__(cls, shown: str, kind: str) -> Nested:
        cell = super().__new__(cls, shown)
        cell.kind = kind
        return cell

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return str(self), self.kind  # so that a cached Table can be pickled and read back


class HeaderRowError(DataError):
    """The first row looks like column names while the file is read without a header."""

    def __init__(self, where: str, text: str, label: str) -> None:
        super().__init__(
            f"{where} looks like a header ({text!r}, {label!r}): "
            "use the header option (--header) or remove it"
        )
        self.where, self.text, self.label = where, text, label


# ----------------------------------------------------------------------------- the Table


@dataclass(frozen=True)
class Table:
    """A file's cells as read, before the text and label columns are chosen.

    `cells` holds one tuple per row with something in it (blank rows are skipped); a cell is a
    string, `Nested`, or None where a JSON record lacks the field. CSV rows keep the number of
    fields each had. `rows` is the row number of each as the user sees it: the spreadsheet row,
    the CSV line where the record starts, the JSON line, the Parquet row (1-based).
    `columns` are the names from the header row, the JSON fields or the Parquet schema when
    `named`, else "column 1", ... (CSV) or the column letters (spreadsheets)."""

    name: str
    format: str
    columns: tuple[str, ...]
    cells: tuple[tuple[str | None, ...], ...]
    rows: tuple[int, ...]
    named: bool = False
    header: bool = False  # a header row was read as the names (CSV, spreadsheets)
    sheet: str = ""
    sheets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the user should know: read as JSON although named .csv

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def choose_columns(self) -> bool:
        """Whether the text and label columns are for the user to choose: the columns have names,
        or a spreadsheet has more than two. (A CSV without a header is text,label by rule.)"""
        return self.named or (self.format not in _TEXT_FORMATS and len(self.columns) > 2)

    def where(self, row: int) -> str:
        """How a message names a row: "sheet 'Sheet1', row 17", "line 17" or "row 17"."""
        if self.format == "xlsx":
            return f"sheet {self.sheet!r}, row {row}"
        if self.format in _JSON_FORMATS:
            return f"line {row}"
        return f"row {row}"

    @property
    def _field(self) -> str:
        return "field" if self.format in _JSON_FORMATS else "column"

    def column(self, choice: str | int) -> int:
        """The position of a column given by its name, its spreadsheet letter or its number
        (1-based), as the user wrote it."""
        if isinstance(choice, int):
            if 0 <= choice < len(self.columns):
                return choice
            raise DataError(f"no column {choice + 1}: the file has {len(self.columns)}")
        if choice in self.columns:
            return self.columns.index(choice)
        folded = [i for i, name in enumerate(self.columns) if name.casefold() == choice.casefold()]
        if len(folded) == 1:
            return folded[0]
        if choice.isdigit() and 1 <= int(choice) <= len(self.columns):
            return int(choice) - 1
        names = ", ".join(repr(name) for name in self.columns)
        raise DataError(f"no {self._field} {choice!r} in {self.name or 'the file'}: it has {names}")

    def default_columns(self) -> tuple[int, int] | None:
        """The text and label columns when the file says which: named "text" and "label" (or one
        usual name for each, such as "sentence" and "sentiment"), or the only two columns."""
        folded = [name.casefold() for name in self.columns]
        if "text" in folded and "label" in folded:
            return folded.index("text"), folded.index("label")
        texts = [i for i, name in enumerate(folded) if name in _HEADER_TEXT_WORDS]
        labels = [i for i, name in enumerate(folded) if name in _HEADER_LABEL_WORDS]
        if len(texts) == 1 and len(labels) == 1 and texts != labels:
            return texts[0], labels[0]
        if len(self.columns) == 2:  # the one named for its role, else text first
            if len(texts) == 1:
                return texts[0], 1 - texts[0]
            if len(labels) == 1:
                return 1 - labels[0], labels[0]
            return 0, 1
        return None

    def suggested_columns(self) -> tuple[int, int]:
        """The text and label columns to offer first: `default_columns`, else a column with a
        usual name for either role, else the first column left for the text and the column after
        the text for the label (id, text, label, ...)."""
        pair = self.default_columns()
        if pair is not None or len(self.columns) < 2:
            return pair or (0, 0)
        ti = self._other(None, None, _HEADER_TEXT_WORDS)
        li = self._other(ti, None, _HEADER_LABEL_WORDS)
        if ti is None:
            ti = next(i for i in range(len(self.columns)) if i != li)
        if li is None:
            others = [i for i in range(len(self.columns)) if i != ti]
            li = ti + 1 if ti + 1 < len(self.columns) else others[0]
        return ti, li

    def labeled(
        self, text: str | int | None = None, label: str | int | None = None
    ) -> LabeledTexts:
        """The texts and labels of the chosen columns (by default those `default_columns` finds)
        as LabeledTexts with this table's row numbers.

        Texts and labels are stripped; rows with an empty text or label are kept (the review
        flags them), rows empty in both are skipped. Raises DataError naming the row for a row
        of the wrong width (CSV), a missing JSON field, a list where a text belongs, a first row
        that looks like a header, or labels no classifier can learn from."""
        if not self.cells:
            raise DataError(self._empty_message())
        ti, li = self._chosen(text, label)
        if self.format in _TEXT_FORMATS:
            self._check_widths(explicit=text is not None or label is not None)
        texts: list[str] = []
        labels: list[str] = []
        rows: list[int] = []
        for row, cells in zip(self.rows, self.cells, strict=True):
            text_cell = self._cell(row, cells, ti)
            label_cell = self._cell(row, cells, li)
            if not text_cell and not label_cell:
                continue  # nothing in the chosen columns: another column's note, not an example
            texts.append(text_cell)
            labels.append(label_cell)
            rows.append(row)
        if not rows:
            raise DataError(self._empty_message())
        counts = Counter(labels)
        if not self.named and self.format in (*_TEXT_FORMATS, "xlsx"):
            _reject_undeclared_header(self.where(rows[0]), texts[0], labels[0], counts)
            if len(self.columns) > 2 and self._names_in_first_row():
                raise HeaderRowError(self.where(self.rows[0]), texts[0], labels[0])
        distinct = [value for value in counts if value != ""]
        if not distinct:
            if self.format in _TEXT_FORMATS and not self.named:
                raise DataError(
                    "every row has an empty label: expected rows of text,label with the label "
                    "in the second column"
                )
            raise DataError(
                f"every row has an empty label in {self._field} {self.columns[li]!r}"
                f"{self._in_sheet()}: choose the {self._field} that holds the labels"
            )
        if len(distinct) == 1:
            raise DataError(
                f"only one label ({distinct[0]!r}) found: a classifier needs at least 2 labels"
            )
        return LabeledTexts(tuple(texts), tuple(labels), tuple(rows), name=self.display_name)

    @property
    def display_name(self) -> str:
        """The file's name, and the sheet when the workbook has more than one."""
        if self.format == "xlsx" and len(self.sheets) > 1:
            return f"{self.name} (sheet {self.sheet!r})" if self.name else f"sheet {self.sheet!r}"
        return self.name

    def texts(
        self, text: str | int | None = None
    ) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
        """Texts to predict: the chosen column, else the text column the names say, else the
        first; with the labels when the label column is found and every row has one (a CSV
        only when every row has exactly two fields)."""
        pair = self.default_columns()
        ti = self.column(text) if text is not None else pair[0] if pair else 0
        texts = tuple(self._cell(row, cells, ti) for row, cells in zip(self.rows, self.cells))
        if pair is None or pair[0] != ti:
            return texts, None
        if self.named and self.columns[pair[1]].casefold() not in _HEADER_LABEL_WORDS:
            return texts, None  # ("id", "text"): an id is no label
        if self.format in _TEXT_FORMATS and any(len(cells) != 2 for cells in self.cells):
            return texts, None
        li = pair[1]
        found = [cells[li] if li < len(cells) else None for cells in self.cells]
        if not all(v is not None and not isinstance(v, Nested) and v.strip() for v in found):
            return texts, None
        return texts, tuple(str(v).strip() for v in found)

    # -- helpers

    def _in_sheet(self) -> str:
        return f" of sheet {self.sheet!r}" if self.format == "xlsx" else ""

    def _empty_message(self) -> str:
        if self.format == "xlsx":
            others = [name for name in self.sheets if name != self.sheet]
            choose = (
                f" (the workbook's other sheets: {_names(others)}; choose one)" if others else ""
            )
            if self.header:
                return (
                    f"sheet {self.sheet!r} has a header row but no data rows: expected rows of "
                    f"text, label after it{choose}"
                )
            return f"sheet {self.sheet!r} is empty: expected rows of text, label{choose}"
        if self.format in _JSON_FORMATS:
            return f"the file has no records: expected {_RECORD_EXAMPLE} records"
        if self.format == "parquet":
            return "the file has no rows: expected a column of texts and a column of labels"
        if self.header:
            return (
                "the file has a header row but no data rows: expected rows of text,label after it"
            )
        return "the file is empty: expected rows of text,label"

    def _chosen(self, text: str | int | None, label: str | int | None) -> tuple[int, int]:
        pair = self.default_columns()
        if text is None and label is None:
            if pair is None:
                if self.format in _TEXT_FORMATS and not self.named:
                    self._check_widths(explicit=False)  # says which row has too many columns
                owner = f"sheet {self.sheet!r}" if self.format == "xlsx" else "the file"
                raise DataError(
                    f"{owner} has {len(self.columns)} {self._field}s ({_names(self.columns)}): "
                    f"choose the text and label {self._field}s (--text-column, --label-column)"
                )
            return pair
        ti = self.column(text) if text is not None else None
        li = self.column(label) if label is not None else None
        if ti is None:
            ti = self._other(li, pair[0] if pair else None, _HEADER_TEXT_WORDS)
        if li is None:
            li = self._other(ti, pair[1] if pair else None, _HEADER_LABEL_WORDS)
        if ti is None or li is None:
            missing = "text" if ti is None else "label"
            raise DataError(f"choose the {missing} {self._field} too: {_names(self.columns)}")
        if ti == li:
            raise DataError(
                f"the text and the label must be different {self._field}s: both are "
                f"{self.columns[ti]!r}"
            )
        return ti, li

    def _names_in_first_row(self) -> bool:
        """Whether the first row of a wide table reads as column names: no number in it, one of
        the usual text or label names, and none of its cells seen again in its column."""
        first = [value.strip() if value else "" for value in self.cells[0]]
        if any(_NUMBER.fullmatch(value) for value in first if value):
            return False
        if not any(value.casefold() in _HEADER_WORDS for value in first):
            return False
        return not any(
            value and column < len(cells) and (cells[column] or "").strip() == value
            for cells in self.cells[1:]
            for column, value in enumerate(first)
        )

    def _other(self, chosen: int | None, default: int | None, words: frozenset[str]) -> int | None:
        """The column not chosen: the default if it is another, else the only other column, else
        the only other with a usual name for it."""
        if default is not None and default != chosen:
            return default
        rest = [i for i in range(len(self.columns)) if i != chosen]
        if len(rest) == 1:
            return rest[0]
        usual = [i for i in rest if self.columns[i].casefold() in words]
        return usual[0] if len(usual) == 1 else None

    def _check_widths(self, explicit: bool) -> None:
        """CSV rows must all have the table's width (2, text and label, unless columns were
        named or chosen): a row with more fields has a text with an unquoted comma."""
        width = len(self.columns) if (self.named or explicit) else 2
        if width == 2 and not self.named:
            described = "text, label"
        elif self.named:
            described = ", ".join(self.columns)
        else:
            described = f"as in row {self.rows[0]}"
        sep = "tab" if self.format == "tsv" else "comma"
        for row, cells in zip(self.rows, self.cells, strict=True):
            if len(cells) != width:
                hint = (
                    f"put texts that contain a {sep} in double quotes"
                    if len(cells) > width
                    else f"separate the text and the label with a {sep}"
                )
                raise DataError(
                    f"row {row}: expected {width} columns ({described}), found {len(cells)} "
                    f"({hint})"
                )

    def _cell(self, row: int, cells: tuple[str | None, ...], index: int) -> str:
        value = cells[index] if index < len(cells) else ""
        if value is None:
            present = [name for name, v in zip(self.columns, cells) if v is not None]
            raise DataError(
                f"{self.where(row)}: the record has no {self.columns[index]!r} field "
                f"(it has {_names(present) or 'no fields'})"
            )
        if isinstance(value, Nested):
            raise DataError(
                f"{self.where(row)}: the {self._field} {self.columns[index]!r} holds "
                f"{value.kind}, not a text: choose another {self._field}"
            )
        return value.strip()


def _names(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _reject_undeclared_header(where: str, text: str, label: str, counts: Counter[str]) -> None:
    """Raise if the first record looks like column names while the file has no header."""
    if counts[label] != 1:
        return  # the first label is a real class elsewhere in the file
    label_word = label.lower() in _HEADER_LABEL_WORDS
    text_word = text.lower() in _HEADER_TEXT_WORDS
    others_repeat = all(n >= 2 for other, n in counts.items() if other != label)
    if label_word or (text_word and others_repeat):
        raise HeaderRowError(where, text, label)


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
) -> LabeledTexts:
    """Read a labelled file of any format Embedtune reads (see `read_table`) into LabeledTexts."""
    table = read_table(source, name=name, header=header, sheet=sheet, max_bytes=max_bytes)
    return table.labeled(text_column, label_column)


def read_table(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    header: bool = False,
    sheet: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    csv_only: bool = False,
) -> Table:
    """Read a file, from a path or its bytes, as a Table.

    The format comes from the content first (an Excel workbook, Parquet, JSON) and the name
    second: an .xlsx renamed .csv is read as a workbook, a JSON file renamed .csv as JSON when it
    holds records (with a note saying so). `header`: the first row names the columns (CSV and
    spreadsheets). `sheet`: the sheet to read (default: the first visible one). `csv_only`
    reads the bytes as CSV/TSV text whatever they are (`read_labeled_csv`)."""
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
        table = _read_xlsx(raw, name, header, sheet)
    elif sniffed.kind == "parquet":
        table = _read_parquet(raw, name)
    elif sniffed.kind != "text":
        raise DataError(sniffed.refusal)
    else:
        content = decode_text(raw)
        if by_name in _JSON_FORMATS:
            table = _read_json(content, name, expected=None)
        else:
            table = _json_by_content(content, name) or _read_csv(content, name, header)
    families = (_TEXT_FORMATS, _JSON_FORMATS)
    same = by_name == table.format or any({by_name, table.format} <= set(f) for f in families)
    if by_name is not None and not same and not table.notes:
        table = _with_note(
            table,
            f"{name} is {_DESCRIBED[table.format]}, not {_DESCRIBED[by_name]} as "
            "its name says: it was read as what it is",
        )
    return table


def file_format(path: str | os.PathLike[str]) -> str:
    """The format `read_table` reads a file on disk as, from its first bytes and its name
    without reading it whole (for readers that stream): one of FORMATS, or "other"."""
    sniffed = sniff_file(path)
    if sniffed.kind != "text":
        return sniffed.kind if sniffed.kind in FORMATS else "other"
    by_name = _BY_EXTENSION.get(os.path.splitext(os.fspath(path))[1].lower())
    if by_name in _JSON_FORMATS:
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
    return by_name if by_name in _TEXT_FORMATS else "csv"


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


def _unique_names(names: Sequence[str], fallback: Sequence[str]) -> tuple[str, ...]:
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
        names = _unique_names(first, [f"column {i + 1}" for i in range(len(first))])
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
        return Nested(f"[{len(value)} items]", "a list")
    if isinstance(value, dict):
        return Nested(f"{{{len(value)} fields}}", "an object")
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return Nested(f"<{len(value)} bytes>", "binary data")
    return str(value)  # Decimal, timedelta, ...


# ----------------------------------------------------------------------------- Excel


def _read_xlsx(raw: bytes, name: str, header: bool, sheet: str | None) -> Table:
    """The first visible sheet (or `sheet`) through python-calamine: the values Excel saved,
    so a formula cell reads as its cached result. A cell merged down over several rows reads
    as its value on each; a cell merged across the whole table above it is a title, skipped."""
    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

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
            raise DataError(f"no sheet {sheet!r} in the workbook: its sheets are {_names(sheets)}")
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
        names = _unique_names([head[c] if c < len(head) else "" for c in used], letters)
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


def _read_parquet(raw: bytes, name: str) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"the file looks like Parquet but cannot be read ({exc}): write it again and try again"
        ) from None
    columns = [[_cell(v) for v in column.to_pylist()] for column in data.columns]
    return Table(
        name=name,
        format="parquet",
        columns=_unique_names(
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
                f"line {number}: expected a JSON object such as {_RECORD_EXAMPLE}, found "
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
        shown = _names(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
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
        f"{what}: expected records such as {_RECORD_EXAMPLE}, one per line (JSON Lines) or in a "
        "list"
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

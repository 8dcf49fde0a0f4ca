"""CSV and TSV text into a Table: the row each record starts on, and errors that name the row
where a quote opens and never closes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from core.data.readers.values import column_names
from core.data.table import Table
from core.errors import DataError


def read_csv(content: str, name: str, header: bool) -> Table:
    fmt = "tsv" if _is_tsv(name, content) else "csv"
    records = _parse_csv(content, "\t" if fmt == "tsv" else ",")
    if header and records:
        first = records[0][1]
        names = column_names(first, [f"column {i + 1}" for i in range(len(first))])
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

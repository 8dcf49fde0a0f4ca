"""A file's cells as read (Table) and, with the text and label columns chosen, LabeledTexts: the
column choice and the row-precise errors every format shares (the header-row rule:
core.data.header)."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, replace

from core.data.cells import Nested, quoted
from core.data.header import (
    LABEL_WORDS,
    NUMBER,
    TEXT_WORDS,
    HeaderRowError,
    names_in_first_row,
    reject_undeclared_header,
)
from core.data.labeled import LabeledTexts
from core.errors import DataError

TEXT_FORMATS = ("csv", "tsv")  # row and column as the user wrote them; no names of their own
JSON_FORMATS = ("jsonl", "json")
RECORD_EXAMPLE = '{"text": ..., "label": ...}'

# Never a label column by default: dates and times, as the readers write them or as typed.
_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
    r"|\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
)
SCAN_ROWS = 1000
"""Rows the column choice reads: a million-row file is chosen for as fast as a small one."""


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

    def with_note(self, note: str) -> Table:
        """This table with one more thing the user should know about how it was read."""
        return replace(self, notes=(*self.notes, note))

    @property
    def choose_columns(self) -> bool:
        """Whether the text and label columns are for the user to choose: the columns have names,
        or a spreadsheet has more than two. (A CSV without a header is text,label by rule.)"""
        return self.named or (self.format not in TEXT_FORMATS and len(self.columns) > 2)

    def where(self, row: int) -> str:
        """How a message names a row: "sheet 'Sheet1', row 17", "line 17" or "row 17"."""
        if self.format == "xlsx":
            return f"sheet {self.sheet!r}, row {row}"
        if self.format in JSON_FORMATS:
            return f"line {row}"
        return f"row {row}"

    @property
    def _field(self) -> str:
        return "field" if self.format in JSON_FORMATS else "column"

    def column(self, choice: str) -> int:
        """The position of a column given by its name (in any case; a sheet read without a
        header names its columns by their letters) or its number (1-based)."""
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
        texts = [i for i, name in enumerate(folded) if name in TEXT_WORDS]
        labels = [i for i, name in enumerate(folded) if name in LABEL_WORDS]
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
        usual name for either role, else the column with the longest texts for the text and,
        of the others, the one with the fewest distinct values for the label (ticket_id,
        subject, intent, created: subject and intent)."""
        pair = self.default_columns()
        if pair is not None or len(self.columns) < 2:
            return pair or (0, 0)
        ti = self._other(None, None, TEXT_WORDS)
        li = self._other(ti, None, LABEL_WORDS)
        if ti is None:
            ti = self._longest_texts(exclude=li)
        if li is None:
            li = self._fewest_values(exclude=ti)
        return ti, li

    def labeled(self, text: str | None = None, label: str | None = None) -> LabeledTexts:
        """The texts and labels of the chosen columns (by default those `default_columns` finds)
        as LabeledTexts with this table's row numbers.

        Texts and labels are stripped; rows with an empty text or label are kept (the review
        flags them), rows empty in both are skipped. Raises DataError naming the row for a row
        of the wrong width (CSV), a missing JSON field, a list where a text belongs, a first row
        that looks like a header, or labels no classifier can learn from."""
        if not self.cells:
            raise DataError(self._empty_message())
        ti, li = self._chosen(text, label)
        if self.format in TEXT_FORMATS:
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
        if not self.named and self.format in (*TEXT_FORMATS, "xlsx"):
            reject_undeclared_header(self.where(rows[0]), texts[0], labels[0], counts)
            if len(self.columns) > 2 and names_in_first_row(self.cells):
                raise HeaderRowError(self.where(self.rows[0]), texts[0], labels[0])
        distinct = [value for value in counts if value != ""]
        if not distinct:
            if self.format in TEXT_FORMATS and not self.named:
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

    def text_and_label_columns(self, text: str | None = None) -> tuple[int, int | None]:
        """The column of texts to predict (the chosen one, else the text column the names say,
        else where the columns are to choose `suggested_columns`' text, else the first) and the
        label column beside it when the file says which (by the names), else None."""
        pair = self.default_columns()
        suggested = self.suggested_columns() if pair is None and self.choose_columns else None
        if text is not None:
            ti = self.column(text)
        else:
            ti = pair[0] if pair else suggested[0] if suggested else 0
        if pair is not None:
            return ti, pair[1] if pair[0] == ti else None
        if suggested is not None and suggested[0] == ti:
            named = self.columns[suggested[1]].casefold() in LABEL_WORDS
            return ti, suggested[1] if named else None
        return ti, None

    def texts(self, text: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
        """Texts to predict: the chosen column, else the text column the names say, else the
        first; with the labels when the label column is found and every row has one (a CSV
        only when every row has exactly two fields)."""
        ti, li = self.text_and_label_columns(text)
        texts = tuple(self._cell(row, cells, ti) for row, cells in zip(self.rows, self.cells))
        if li is None:
            return texts, None
        if self.named and self.columns[li].casefold() not in LABEL_WORDS:
            return texts, None  # ("id", "text"): an id is no label
        if self.format in TEXT_FORMATS and any(len(cells) != 2 for cells in self.cells):
            return texts, None
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
                f" (the workbook's other sheets: {quoted(others)}; choose one)" if others else ""
            )
            if self.header:
                return (
                    f"sheet {self.sheet!r} has a header row but no data rows: expected rows of "
                    f"text, label after it{choose}"
                )
            return f"sheet {self.sheet!r} is empty: expected rows of text, label{choose}"
        if self.format in JSON_FORMATS:
            return f"the file has no records: expected {RECORD_EXAMPLE} records"
        if self.format == "parquet":
            return "the file has no rows: expected a column of texts and a column of labels"
        if self.header:
            return (
                "the file has a header row but no data rows: expected rows of text,label after it"
            )
        return "the file is empty: expected rows of text,label"

    def _chosen(self, text: str | None, label: str | None) -> tuple[int, int]:
        pair = self.default_columns()
        if text is None and label is None:
            if pair is None:
                self._reject_header_row()
                if self.format in TEXT_FORMATS and not self.named:
                    self._check_widths(explicit=False)  # says which row has too many columns
                owner = f"sheet {self.sheet!r}" if self.format == "xlsx" else "the file"
                raise DataError(
                    f"{owner} has {len(self.columns)} {self._field}s ({quoted(self.columns)}): "
                    f"choose the text and label {self._field}s (--text-column, --label-column)"
                )
            return pair
        ti = self.column(text) if text is not None else None
        li = self.column(label) if label is not None else None
        if ti is None:
            ti = self._other(li, pair[0] if pair else None, TEXT_WORDS)
        if li is None:
            li = self._other(ti, pair[1] if pair else None, LABEL_WORDS)
        if ti is None or li is None:
            missing = "text" if ti is None else "label"
            raise DataError(f"choose the {missing} {self._field} too: {quoted(self.columns)}")
        if ti == li:
            raise DataError(
                f"the text and the label must be different {self._field}s: both are "
                f"{self.columns[ti]!r}"
            )
        return ti, li

    def _reject_header_row(self) -> None:
        """Raise HeaderRowError when a wide file read without a header starts with a row of
        column names (before any other complaint about its columns: --header is the fix)."""
        if self.named or self.format not in (*TEXT_FORMATS, "xlsx") or len(self.columns) <= 2:
            return
        if names_in_first_row(self.cells):
            first = [(cell or "").strip() for cell in self.cells[0]]
            ti, li = (min(i, len(first) - 1) for i in self.suggested_columns())
            raise HeaderRowError(self.where(self.rows[0]), first[ti], first[li])

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

    def _scanned(self, column: int) -> list[str]:
        """The plain cells of a column in the first SCAN_ROWS rows, stripped, empty ones left
        out (what the column choice looks at: enough to tell texts, labels and ids apart)."""
        values = (cells[column] if column < len(cells) else None for cells in self.cells)
        return [
            value.strip()
            for value in itertools.islice(values, SCAN_ROWS)
            if value is not None and not isinstance(value, Nested) and value.strip()
        ]

    def _longest_texts(self, exclude: int | None) -> int:
        """The column whose cells are longest on average (numbers count as empty: an id or an
        amount is never the text); the leftmost of equals."""

        def length(column: int) -> float:
            values = [v for v in self._scanned(column) if not NUMBER.fullmatch(v)]
            return sum(map(len, values)) / len(values) if values else 0.0

        others = [i for i in range(len(self.columns)) if i != exclude]
        return max(others, key=lambda i: (length(i), -i))

    def _fewest_values(self, exclude: int) -> int:
        """The column most like labels: values that repeat (not all distinct, as ids and texts
        are), at least 2 of them, no dates; of those the one with the fewest distinct values,
        the leftmost of equals. Without one: the column after the text."""
        others = [i for i in range(len(self.columns)) if i != exclude]
        candidates = []
        for column in others:
            values = self._scanned(column) + self._listed(column)
            distinct = set(values)
            if 2 <= len(distinct) < len(values) and not any(_DATE.fullmatch(v) for v in distinct):
                candidates.append((len(distinct), column))
        if candidates:
            return min(candidates)[1]
        return exclude + 1 if exclude + 1 < len(self.columns) else others[0]

    def _listed(self, column: int) -> list[str]:
        """A column of label lists (JSON, Parquet), each list as one value."""
        values = (cells[column] if column < len(cells) else None for cells in self.cells)
        return [
            "|".join(value.items)
            for value in itertools.islice(values, SCAN_ROWS)
            if isinstance(value, Nested) and value.items is not None
        ]

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
                f"(it has {quoted(present) or 'no fields'})"
            )
        if isinstance(value, Nested):
            raise DataError(
                f"{self.where(row)}: the {self._field} {self.columns[index]!r} holds "
                f"{value.kind}, not a text: choose another {self._field}"
            )
        return value.strip()

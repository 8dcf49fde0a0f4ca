"""Multi-label data: several labels per text, as a JSON list or as one cell whose labels are
joined by a separator ("billing|urgent"); reading them from a Table into LabeledTexts with
`label_sets`, and telling when a file looks multi-label."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

from core.data.labeled import LabeledTexts, sort_labels
from core.data.table import TEXT_FORMATS, Nested, Table
from core.errors import DataError

SEPARATOR = "|"
"""The default separator of the labels in one cell: GoEmotions' CSV and spreadsheets commonly
use it, and unlike "," or ";" it rarely occurs inside a label name."""


class SeparatorError(DataError):
    """A separator that cannot split a label cell."""


def check_separator(separator: str) -> str:
    """The separator, if it can split a cell: one character, not a quote, space or newline."""
    if len(separator) != 1 or separator in '"\r\n \t':
        raise SeparatorError(
            f"the label separator must be one character other than a quote, a space, a tab or a "
            f"line break (such as |, ; or ,), got {separator!r}"
        )
    return separator


def split_cell(cell: str, separator: str = SEPARATOR, where: str = "") -> tuple[str, ...]:
    """The labels in one cell, in the order written, each stripped, empty ones and repeats
    dropped. A label that contains the separator is written in double quotes ('"R|B"|jazz'),
    as CSV quotes a field; an unclosed quote is a DataError naming `where`."""
    check_separator(separator)
    if not cell.strip():
        return ()
    if '"' not in cell:
        parts = cell.split(separator)
    else:
        try:
            reader = csv.reader([cell], delimiter=separator, quotechar='"', strict=True)
            parts = next(reader)
        except csv.Error as exc:
            raise DataError(
                f"{where + ': ' if where else ''}the labels {cell!r} cannot be split on "
                f"{separator!r} ({exc}): put a label that contains {separator!r} in double "
                'quotes, as "a|b"'
            ) from None
    labels: list[str] = []
    for part in parts:
        label = part.strip()
        if label and label not in labels:
            labels.append(label)
    return tuple(labels)


def join_labels(labels: Iterable[str], separator: str = SEPARATOR) -> str:
    """One cell of labels: the reverse of `split_cell` (a label with the separator or a quote
    is quoted)."""
    check_separator(separator)
    parts = []
    for label in labels:
        if separator in label or '"' in label or label != label.strip():
            parts.append('"' + label.replace('"', '""') + '"')
        else:
            parts.append(label)
    return separator.join(parts)


def from_label_sets(
    texts: Sequence[str],
    label_sets: Sequence[Sequence[str]],
    rows: Sequence[int] | None = None,
    name: str = "",
) -> LabeledTexts:
    """Multi-label LabeledTexts; each row's labels are kept in the data set's label order."""
    order = {label: i for i, label in enumerate(sort_labels(x for s in label_sets for x in s))}
    sets = tuple(
        tuple(sorted(dict.fromkeys(x for x in labels if x), key=order.__getitem__))
        for labels in label_sets
    )
    return LabeledTexts(
        texts=tuple(texts),
        labels=tuple(join_labels(labels) for labels in sets),
        rows=tuple(rows) if rows is not None else tuple(range(1, len(sets) + 1)),
        name=name,
        label_sets=sets,
    )


def _cell_labels(
    table: Table, row: int, cell: str | None, column: str, separator: str
) -> list[str]:
    where = table.where(row)
    if cell is None:
        return []  # a JSON record without the field: no labels
    if isinstance(cell, Nested):
        if cell.items is None:
            raise DataError(
                f"{where}: the labels in {column!r} must be a list of names or a text, found "
                f"{cell.kind}"
            )
        return [item.strip() for item in cell.items]
    return list(split_cell(cell, separator, where))


def label_cells(
    table: Table, text: str | None = None, separator: str = SEPARATOR
) -> tuple[str, ...] | None:
    """Texts to predict or map with a multi-label model: each row's labels joined by
    `separator` (a JSON list or a joined cell, "" for a row without one), in the rows of
    `Table.texts`; None when the file has no label column beside the text column."""
    _, li = table.text_and_label_columns(text)
    if li is None:
        return None
    return tuple(
        join_labels(
            _cell_labels(
                table, row, cells[li] if li < len(cells) else None, table.columns[li], separator
            ),
            separator,
        )
        for row, cells in zip(table.rows, table.cells, strict=True)
    )


def labeled_multi(
    table: Table,
    text: str | None = None,
    label: str | None = None,
    separator: str = SEPARATOR,
) -> LabeledTexts:
    """The texts and label lists of the chosen columns: a JSON list of names, or a cell of
    names joined by `separator`. Rows with no label are kept (the review counts them); rows
    with neither a text nor a label are skipped."""
    check_separator(separator)
    if not table.cells:
        raise DataError("the file has no rows: expected a column of texts and one of labels")
    ti, li = table._chosen(text, label)
    if table.format in TEXT_FORMATS:
        table._check_widths(explicit=text is not None or label is not None)
    column = table.columns[li]
    texts: list[str] = []
    sets: list[list[str]] = []
    rows: list[int] = []
    for row, cells in zip(table.rows, table.cells, strict=True):
        text_cell = table._cell(row, cells, ti)
        labels = _cell_labels(table, row, cells[li] if li < len(cells) else "", column, separator)
        if not text_cell and not labels:
            continue
        texts.append(text_cell)
        sets.append(labels)
        rows.append(row)
    data = from_label_sets(texts, sets, rows, name=table.display_name)
    if len(data.classes) < 2:
        found = f"only one label ({data.classes[0]!r})" if data.classes else "no labels"
        raise DataError(f"the file has {found}: a classifier needs at least 2 labels")
    return data


def looks_multi_label(
    table: Table, text: str | None = None, label: str | None = None, separator: str = SEPARATOR
) -> str | None:
    """Why the label column looks multi-label (a sentence for the review), or None: it holds
    lists (JSON, Parquet), or some of its cells contain the separator."""
    try:
        _, li = table._chosen(text, label)
    except DataError:
        return None
    cells = [cells[li] for cells in table.cells if li < len(cells) and cells[li] is not None]
    lists = sum(1 for cell in cells if isinstance(cell, Nested) and cell.items is not None)
    if lists:
        return f"{lists} of {len(cells)} rows give their labels as a list"
    joined = sum(1 for cell in cells if not isinstance(cell, Nested) and separator in (cell or ""))
    if joined:
        return (
            f"{joined} of {len(cells)} label cells contain {separator!r}: if these rows carry "
            f"several labels joined by {separator!r}, read the file as multi-label"
        )
    return None

"""What the commands read: texts to classify or embed, and labelled files, with their
warnings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Literal

from core.cli.common import CliError, warn, warn_encoding


def read_texts(args: argparse.Namespace) -> list[str]:
    """The texts given as arguments and those of --file."""
    texts = list(args.texts or [])
    if args.file:
        texts += _read_text_column(
            Path(args.file), args.header, sheet=args.sheet, text_column=args.text_column
        )
    if not texts:
        raise CliError("no texts given: pass them as arguments or with --file")
    return texts


def _read_text_column(
    path: Path, header: bool, sheet: str | None = None, text_column: str | None = None
) -> list[str]:
    """The texts of a file of any format `core.data.files` reads: the column named "text", else
    the first (texts to classify or embed; other columns are ignored)."""
    from core.data.inputs import read_texts
    from core.errors import DataError

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    # The command line has no upload limit: the file is the user's own.
    given = read_texts(
        raw,
        name=path.name,
        header=header,
        sheet=sheet,
        text_column=text_column,
        limit=sys.maxsize,
        max_bytes=len(raw),
    )
    warn(*given.notes)
    return list(given.texts)


def read_labeled(
    path: str, args: argparse.Namespace, multi: bool = False, infer_header: bool = False
) -> Any:
    """A labelled file of any format `core.data.files` reads, with the sheet and columns the
    command's options choose, and a warning for each thing the user should know (not UTF-8,
    JSON although named .csv, labels that look multi-label, a first row read as the header).
    Multi-label with --multi-label, `multi`, or when the label column holds lists.
    `infer_header`: without --header, a first row that looks like column names is the header
    (as the Metrics page reads a test file)."""
    from core.data.files import read_table
    from core.data.multilabel import labeled_multi, looks_multi_label

    header: bool | Literal["infer"] = True if args.header else "infer" if infer_header else False
    table = read_table(path, header=header, sheet=args.sheet)
    text, label, chosen = _columns(table, args.text_column, args.label_column)
    multi = multi or args.multi_label
    hint = None if multi else looks_multi_label(table, text, label)
    if hint is not None and "list" in hint:
        multi, hint = True, f"read as multi-label: {hint}"
    elif hint is not None:
        hint += " (--multi-label)"
    if multi:
        data = labeled_multi(table, text, label, args.separator)
    else:
        data = table.labeled(text, label)
    warn_encoding(path)
    warn(*table.notes, chosen, hint)
    return data


def _columns(table: Any, text: str | None, label: str | None) -> tuple[Any, Any, str | None]:
    """The text and label columns to read: those given; else, where the file has columns to
    choose and its names do not say which, the app's first offer (`Table.suggested_columns`),
    with a warning that names them."""
    if text is not None or label is not None or not table.choose_columns:
        return text, label, None
    if table.default_columns() is not None or len(table.columns) < 2:
        return text, label, None
    ti, li = table.suggested_columns()
    names = [
        name if table.columns.count(name) == 1 else str(i + 1)
        for i, name in ((ti, table.columns[ti]), (li, table.columns[li]))
    ]
    what = "field" if table.format in ("jsonl", "json") else "column"
    note = (
        f"the file has {len(table.columns)} {what}s: texts read from {table.columns[ti]!r} (the "
        f"longest texts), labels from {table.columns[li]!r} (few distinct values); choose others "
        "with --text-column and --label-column"
    )
    return names[0], names[1], note

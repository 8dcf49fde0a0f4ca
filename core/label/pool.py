"""A pool of texts to label and the labels to choose from: the texts deduplicated (a text is
asked once), the labels typed or found among the pool's labelled rows, and the size a labelling
session works on (a larger pool is sampled, and says so)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.data.cells import Nested
from core.data.header import LABEL_WORDS, names_in_first_row
from core.data.labeled import describe_rows, sort_labels
from core.errors import DataError
from core.records import Record

if TYPE_CHECKING:
    from core.data.table import Table

MAX_POOL = 10_000
"""Most texts a session labels from; a larger pool is sampled down to this many. Embedding
10,000 short texts once takes about 40 s on 2 CPU cores (275 texts/s, ../shared/MODELS.md), and
each batch's refit and choice stay under a second at this size (docs/BENCHMARKS.md, "Labelling
loop")."""
SKIP = "skip"
"""The answer for a text the labeller passed over: never asked again, never a training row."""
NONE_OF_THESE = "none of these"
"""The answer for a text that fits no label: never asked again, never a training row."""
ANSWERS = (SKIP, NONE_OF_THESE)


@dataclass(frozen=True)
class Pool(Record):
    """The distinct texts to label, in the order first seen, with the file row of each (its first
    occurrence), labels the file already gave (text index -> label), and notes the user should
    read (duplicates asked once, a sample taken)."""

    texts: tuple[str, ...]
    rows: tuple[int, ...]
    given: dict[int, str] = field(default_factory=dict)
    name: str = ""
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def given_labels(self) -> tuple[str, ...]:
        """The labels the pool's labelled rows use (not the answers skip / none of these)."""
        return sort_labels(label for label in self.given.values() if label not in ANSWERS)


def make_pool(
    texts: Sequence[str],
    rows: Sequence[int] | None = None,
    labels: Sequence[str | None] | None = None,
    *,
    name: str = "",
    limit: int = MAX_POOL,
    seed: int = 0,
) -> Pool:
    """The pool of `texts` (stripped; blank ones dropped; a repeated text kept once, at its first
    row, with the first label given to it). More than `limit` distinct texts: a random sample of
    `limit` (the labelled ones first), seeded, with a note. Fewer than 2: a DataError."""
    rows = list(rows) if rows is not None else list(range(1, len(texts) + 1))
    first: dict[str, int] = {}  # text -> its position in the pool
    kept_rows: list[int] = []
    given: dict[int, str] = {}
    repeated: list[int] = []
    for i, raw in enumerate(texts):
        text = raw.strip()
        if not text:
            continue
        label = (labels[i] or "").strip() if labels is not None else ""
        if text in first:
            repeated.append(rows[i])
            if label and first[text] not in given:
                given[first[text]] = label
            continue
        first[text] = len(kept_rows)
        kept_rows.append(rows[i])
        if label:
            given[first[text]] = label
    distinct = list(first)
    where = f"{name} " if name else "the pool "
    if not distinct:
        raise DataError(
            f"{where}has no texts: expected a file with one text per row (a text column, and "
            "optionally a label column)"
        )
    if len(distinct) == 1:
        raise DataError(
            f"{where}has one text ({distinct[0][:60]!r}"
            f"{', repeated' if repeated else ''}): labelling chooses among many texts, so give "
            "it a file of at least 2 different texts (hundreds or thousands serve best)"
        )
    notes: list[str] = []
    if repeated:
        notes.append(
            f"{len(repeated)} {'row repeats a text' if len(repeated) == 1 else 'rows repeat texts'}"
            f" given earlier ({describe_rows(repeated)}): each text is asked once"
        )
    if len(distinct) > limit:
        keep = _sample(len(distinct), sorted(given), limit, seed)
        notes.append(
            f"{where}has {len(distinct):,} different texts: a random sample of {limit:,} "
            f"(seed {seed}) is labelled from, every text that has a label among them; split "
            "the file to label the rest"
        )
        position = {old: new for new, old in enumerate(keep)}
        distinct = [distinct[i] for i in keep]
        kept_rows = [kept_rows[i] for i in keep]
        given = {position[i]: label for i, label in given.items() if i in position}
    return Pool(tuple(distinct), tuple(kept_rows), given, name, tuple(notes))


def _sample(n: int, first: list[int], limit: int, seed: int) -> list[int]:
    """`limit` of range(n), `first` before the others, in their original order."""
    chosen = set(first[:limit])
    rest = [i for i in range(n) if i not in chosen]
    chosen.update(random.Random(seed).sample(rest, limit - len(chosen)))
    return sorted(chosen)


@dataclass(frozen=True)
class Rows:
    """A file's rows as read, before the pool is made: texts, labels ("" where none; all ""
    when the file has no label column), row numbers, the file's name and notes."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    rows: tuple[int, ...]
    name: str
    notes: tuple[str, ...]


def read_rows(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
) -> Rows:
    """The text column of a file of any format the readers take (core.data.files.read_table)
    and, where the file has one, its label column, which may be empty on rows not labelled
    yet. A first row that reads as column names ("text", "label", ...) is the header."""
    from core.data.files import read_table

    table = read_table(source, name=name)
    if not table.named and table.cells and names_in_first_row(table.cells):
        table = read_table(source, name=name, header=True)
    if not table.cells:
        raise DataError(f"{table.name or 'the pool'} has no texts: expected one text per row")
    ti, li = table.text_and_label_columns(text_column)
    if label_column is not None:
        li = table.column(label_column)
    elif li is not None and table.named and table.columns[li].casefold() not in LABEL_WORDS:
        li = None  # ("id", "text"): an id is no label
    texts = [_cell(cells, ti, table.columns, table.where(row)) for row, cells in _rows(table)]
    labels = [""] * len(texts)
    if li is not None and li != ti:
        labels = [_cell(cells, li, table.columns, table.where(row)) for row, cells in _rows(table)]
    return Rows(tuple(texts), tuple(labels), table.rows, table.display_name, table.notes)


def read_pool(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    limit: int = MAX_POOL,
    seed: int = 0,
) -> Pool:
    """The pool in a file (`read_rows`): its texts and the labels its rows already have."""
    found = read_rows(source, name=name, text_column=text_column, label_column=label_column)
    pool = make_pool(found.texts, found.rows, found.labels, name=found.name, limit=limit, seed=seed)
    return Pool(pool.texts, pool.rows, pool.given, pool.name, (*found.notes, *pool.notes))


def _rows(table: Table) -> Iterable[tuple[int, tuple[str | None, ...]]]:
    return zip(table.rows, table.cells, strict=True)


def _cell(cells: tuple[str | None, ...], index: int, columns: Sequence[str], where: str) -> str:
    value = cells[index] if index < len(cells) else ""
    if isinstance(value, Nested):
        raise DataError(
            f"{where}: the column {columns[index]!r} holds {value.kind}, not a text: choose "
            "another column"
        )
    return (value or "").strip()


# ----------------------------------------------------------------------------- labels


def parse_labels(typed: str | Iterable[str]) -> tuple[str, ...]:
    """The labels a person typed (comma- or line-separated, or a list), stripped, in the order
    given. A DataError for fewer than 2, a label given twice (in any case: "Spam" and "spam"
    would split one label in two), and the words that mark answers (skip, none of these)."""
    items = typed.replace("\n", ",").split(",") if isinstance(typed, str) else list(typed)
    labels = [label.strip() for label in items if label.strip()]
    seen: dict[str, str] = {}
    for label in labels:
        key = label.casefold()
        if key in seen:
            if seen[key] == label:
                raise DataError(f"label {label!r} is given twice: give each label once")
            raise DataError(
                f"labels {seen[key]!r} and {label!r} differ only in case: they would be two "
                "labels for one meaning; give it once, written one way"
            )
        if key in ANSWERS:
            raise DataError(
                f"{label!r} is what an answer is marked with, not a label: call the label "
                "something else"
            )
        seen[key] = label
    if len(labels) < 2:
        shown = f" (only {labels[0]!r})" if labels else ""
        raise DataError(
            f"give at least 2 labels{shown}: a classifier chooses between labels, e.g. "
            "billing, delivery, other"
        )
    return tuple(labels)


def merge_labels(typed: Sequence[str], used: Iterable[str]) -> tuple[str, ...]:
    """The typed labels and then, sorted, those the labelled rows use that were not typed. A
    label used in a different case from a typed one is a DataError (it would split a label in
    two); so is a typed list with fewer than 2 labels in all."""
    labels = list(typed)
    folded = {label.casefold(): label for label in labels}
    for label in sort_labels(used):
        if label in ANSWERS or label in labels:
            continue
        if label.casefold() in folded:
            raise DataError(
                f"the labelled rows use {label!r} and the labels given have "
                f"{folded[label.casefold()]!r}: write the label one way in both"
            )
        folded[label.casefold()] = label
        labels.append(label)
    return parse_labels(labels)


def check_answers(answers: Mapping[int, str], labels: Sequence[str], size: int) -> None:
    """Every answer is for a text of the pool and is one of the labels, skip or none of these."""
    allowed = set(labels) | set(ANSWERS)
    for index, answer in answers.items():
        if not 0 <= index < size:
            raise DataError(f"text {index} is not in the pool (it has {size} texts)")
        if answer not in allowed:
            raise DataError(
                f"{answer!r} is not one of the labels ({', '.join(labels)}), "
                f"{SKIP!r} or {NONE_OF_THESE!r}"
            )

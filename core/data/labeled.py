"""Read a labelled CSV/TSV file into LabeledTexts and split it into training and validation sets."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from core.errors import DataError
from core.io import decode_text
from core.records import Record

MAX_FILE_BYTES = 200 * 1024 * 1024
"""Largest file read_labeled_csv accepts: the whole file is held in memory as text."""

# Only the first chunk is checked for NUL bytes: binary files show them early, text never has them.

# A first row is only called a header when its label is one of these words (or its text is one of
# the text words) AND that label occurs nowhere else: real labels repeat, header cells do not.
_HEADER_LABEL_WORDS = frozenset(
    "label labels class classes category categories target y sentiment intent tag tags topic "
    "label_name class_name".split()
)
_HEADER_TEXT_WORDS = frozenset(
    "text texts sentence sentences review reviews message messages content document documents "
    "utterance utterances query question comment tweet body input x".split()
)

_INT_LABEL = re.compile(r"[+-]?\d+")
_ROWS_SHOWN = 5


# ----------------------------------------------------------------------------- labels and rows


def sort_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Distinct non-empty labels in a stable order: numerically if all are integers, else sorted."""
    distinct = {label for label in labels if label != ""}
    if distinct and all(_INT_LABEL.fullmatch(label) for label in distinct):
        # "2" before "10"; the string breaks ties such as "1" and "01" so the order stays total.
        return tuple(sorted(distinct, key=lambda label: (int(label), label)))
    return tuple(sorted(distinct))


def describe_rows(rows: Sequence[int], limit: int = _ROWS_SHOWN) -> str:
    """'row 7', 'rows 3, 8' or 'rows 3, 8, 12, 20, 31 and 40 more' for messages."""
    rows = list(rows)
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = ", ".join(str(row) for row in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"rows {shown}{more}"


# ----------------------------------------------------------------------------- LabeledTexts


@dataclass(frozen=True)
class LabeledTexts(Record):
    """Texts with their labels and the row number of each in the user's file (1-based)."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    rows: tuple[int, ...]
    name: str = ""

    def __post_init__(self) -> None:
        # Accept any sequence, store tuples: the record must stay immutable and hashable-ish.
        for field in ("texts", "labels", "rows"):
            value = getattr(self, field)
            if not isinstance(value, tuple):
                object.__setattr__(self, field, tuple(value))
        if not len(self.texts) == len(self.labels) == len(self.rows):
            raise ValueError(
                f"texts, labels and rows must have the same length, got "
                f"{len(self.texts)}, {len(self.labels)} and {len(self.rows)}"
            )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def classes(self) -> tuple[str, ...]:
        """Distinct labels (empty labels excluded) in a stable order; see sort_labels."""
        return sort_labels(self.labels)

    def class_counts(self) -> dict[str, int]:
        """Number of examples per label, in `classes` order (empty labels not counted)."""
        counts = Counter(self.labels)
        return {label: counts[label] for label in self.classes}

    def subset(self, indices: Iterable[int]) -> LabeledTexts:
        """The examples at these positions (not row numbers), in the order given."""
        idx = list(indices)
        return LabeledTexts(
            texts=tuple(self.texts[i] for i in idx),
            labels=tuple(self.labels[i] for i in idx),
            rows=tuple(self.rows[i] for i in idx),
            name=self.name,
        )

    def without_rows(self, rows: Iterable[int]) -> LabeledTexts:
        """A copy without the examples at these file row numbers."""
        drop = set(rows)
        return self.subset(i for i, row in enumerate(self.rows) if row not in drop)

    def with_texts(self, texts: Sequence[str]) -> LabeledTexts:
        """The same rows and labels with new texts (after cleaning)."""
        if len(texts) != len(self.texts):
            raise ValueError(f"expected {len(self.texts)} texts, got {len(texts)}")
        return LabeledTexts(tuple(texts), self.labels, self.rows, self.name)

    def fingerprint(self) -> str:
        """sha256 of the (text, label) pairs in order; ignores the name and row numbers."""
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels, strict=True):
            # One JSON array per line: unambiguous whatever the texts contain.
            digest.update(json.dumps([text, label], ensure_ascii=False).encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], name: str = "") -> LabeledTexts:
        """Build from (text, label) pairs; rows are numbered 1..n."""
        items = [(str(text), str(label)) for text, label in pairs]
        return cls(
            texts=tuple(text for text, _ in items),
            labels=tuple(label for _, label in items),
            rows=tuple(range(1, len(items) + 1)),
            name=name,
        )


def read_labeled_csv(
    source: str | os.PathLike[str] | bytes,
    *,
    header: bool = False,
    name: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> LabeledTexts:
    """Read a two-column (text, label) CSV or TSV file, from a path or the file's bytes.

    Labels stay strings; texts and labels are stripped of surrounding whitespace. Rows with an
    empty text or label are kept (the review flags them); rows with nothing in them are skipped.
    Row numbers are the physical line where each record starts, counting a header line.
    """
    if isinstance(source, bytes):
        raw = source
        name = name if name is not None else ""
    else:
        path = os.fspath(source)
        name = name if name is not None else os.path.basename(path)
        raw = _read_bytes(path, max_bytes)
    _check_size(len(raw), max_bytes)
    content = decode_text(raw)
    if not content.strip():
        raise DataError("the file is empty: expected rows of text,label")

    delimiter = "\t" if _is_tsv(name, content) else ","
    records = _parse(content, delimiter)
    if not records:
        raise DataError("the file is empty: expected rows of text,label")
    if header:
        records = records[1:]
        if not records:
            raise DataError(
                "the file has a header row but no data rows: expected rows of text,label after it"
            )

    rows = tuple(row for row, _, _ in records)
    texts = tuple(text for _, text, _ in records)
    labels = tuple(label for _, _, label in records)
    counts = Counter(labels)
    if not header:
        _reject_undeclared_header(records[0], counts)
    distinct = [label for label in counts if label != ""]
    if not distinct:
        raise DataError(
            "every row has an empty label: expected rows of text,label with the label in the "
            "second column"
        )
    if len(distinct) == 1:
        raise DataError(
            f"only one label ({distinct[0]!r}) found: a classifier needs at least 2 labels"
        )
    return LabeledTexts(texts=texts, labels=labels, rows=rows, name=name)


def _read_bytes(path: str, max_bytes: int) -> bytes:
    try:
        # Check the size before reading so an oversized file is never loaded into memory.
        _check_size(os.path.getsize(path), max_bytes)
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder: expected a CSV file") from None
    except PermissionError:
        raise DataError(f"cannot read {path}: permission denied") from None


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DataError(
            f"the file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB limit "
            "(MAX_FILE_BYTES): sample it or split it into smaller files"
        )


def _is_tsv(name: str, text: str) -> bool:
    """Tab-separated when the name ends in .tsv, or the first record has tabs and no commas."""
    if name.lower().endswith(".tsv"):
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


def _parse(text: str, delimiter: str) -> list[tuple[int, str, str]]:
    """Records as (row, text, label); blank records skipped, column counts checked."""
    consumed: list[str] = []  # the physical lines of the record being read, to locate quotes

    def lines() -> Iterator[str]:
        # newline="" splits on \n, \r\n and \r only (not U+0085 as str.splitlines would).
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    sep = "tab" if delimiter == "\t" else "comma"
    records: list[tuple[int, str, str]] = []
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
        if len(fields) != 2:
            hint = (
                f"put texts that contain a {sep} in double quotes"
                if len(fields) > 2
                else f"separate the text and the label with a {sep}"
            )
            raise DataError(
                f"row {start}: expected 2 columns (text, label), found {len(fields)} ({hint})"
            )
        records.append((start, fields[0].strip(), fields[1].strip()))
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


def _reject_undeclared_header(first: tuple[int, str, str], counts: Counter[str]) -> None:
    """Raise if the first record looks like column names while header=False."""
    row, text, label = first
    if counts[label] != 1:
        return  # the first label is a real class elsewhere in the file
    label_word = label.lower() in _HEADER_LABEL_WORDS
    text_word = text.lower() in _HEADER_TEXT_WORDS
    others_repeat = all(n >= 2 for other, n in counts.items() if other != label)
    if label_word or (text_word and others_repeat):
        raise DataError(
            f"row {row} looks like a header ({text!r}, {label!r}): "
            "use the header option (--header) or remove it"
        )


# ----------------------------------------------------------------------------- DataSet and split


@dataclass(frozen=True)
class DataSet(Record):
    """Training and validation examples, and how the validation set was made."""

    train: LabeledTexts
    valid: LabeledTexts
    valid_source: str  # "file" (the user gave one) or "split" (taken from the training file)
    valid_fraction: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.valid_source not in ("file", "split"):
            raise ValueError(f"valid_source must be 'file' or 'split', got {self.valid_source!r}")

    @property
    def classes(self) -> tuple[str, ...]:
        """The labels the classifier learns: those of the training set, in a stable order."""
        return self.train.classes

    def fingerprint(self) -> str:
        """sha256 over both sets' fingerprints and how the validation set was made."""
        payload = {
            "train": self.train.fingerprint(),
            "valid": self.valid.fingerprint(),
            "valid_source": self.valid_source,
            "valid_fraction": self.valid_fraction,
            "seed": self.seed,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _check_fraction(valid_fraction: float) -> None:
    if not 0 < valid_fraction < 1:
        raise DataError(
            f"the validation fraction must be between 0 and 1 (e.g. 0.2), got {valid_fraction}"
        )


def split_sizes(class_counts: dict[str, int], valid_fraction: float = 0.2) -> dict[str, int]:
    """How many examples of each label `split` puts in the validation set.

    The fraction of each label, rounded, but at least 1 and leaving at least 1 for training;
    a label with a single example stays in training. Depends only on the counts, not the seed.
    """
    _check_fraction(valid_fraction)
    sizes = {}
    for label, n in class_counts.items():
        # int(x + 0.5) rounds halves up, unlike round()'s banker's rounding: easier to predict.
        sizes[label] = 0 if n < 2 else min(max(int(n * valid_fraction + 0.5), 1), n - 1)
    return sizes


def split(data: LabeledTexts, *, valid_fraction: float = 0.2, seed: int = 0) -> DataSet:
    """Stratified, seeded split of one file into training and validation sets.

    Each label gets its share (see split_sizes); both parts keep the file order and row numbers.
    """
    import numpy as np

    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(index)
    # Empty labels are grouped like a label so the split never fails; check_trainable rejects them.
    order = ([""] if "" in by_label else []) + list(sort_labels(by_label))
    sizes = split_sizes({label: len(by_label[label]) for label in order}, valid_fraction)
    rng = np.random.default_rng(seed)
    valid_idx: set[int] = set()
    for label in order:
        members = by_label[label]
        picked = rng.permutation(len(members))[: sizes[label]]
        valid_idx.update(members[i] for i in picked)
    train_idx = [i for i in range(len(data)) if i not in valid_idx]
    return DataSet(
        train=data.subset(train_idx),
        valid=data.subset(sorted(valid_idx)),
        valid_source="split",
        valid_fraction=valid_fraction,
        seed=seed,
    )


def make_dataset(
    train: LabeledTexts,
    valid: LabeledTexts | None = None,
    *,
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> DataSet:
    """Use the validation file when given, else split the training file."""
    if valid is not None:
        return DataSet(train=train, valid=valid, valid_source="file")
    return split(train, valid_fraction=valid_fraction, seed=seed)


def check_trainable(data: DataSet) -> None:
    """Raise DataError if the data set cannot be trained on as it is."""
    classes = data.train.classes
    if len(classes) < 2:
        found = f"only one label ({classes[0]!r})" if classes else "no labels"
        raise DataError(f"the training data has {found}: a classifier needs at least 2 labels")
    if len(data.valid) == 0:
        raise DataError(
            "the validation set is empty: give a validation file, or add rows so that each label "
            "has at least 2 examples to split"
        )
    parts = [("", data.train), ("", data.valid)]
    if data.valid_source == "file":
        parts = [("", data.train), (" of the validation file", data.valid)]
    for where, part in parts:
        for what, values in (("text", part.texts), ("label", part.labels)):
            rows = [row for row, value in zip(part.rows, values, strict=True) if value == ""]
            if rows:
                raise DataError(
                    f"{describe_rows(rows)}{where}: empty {what}; "
                    "drop the flagged rows or fix the file"
                )
    known = set(classes)
    unknown: dict[str, list[int]] = {}
    for row, label in zip(data.valid.rows, data.valid.labels, strict=True):
        if label not in known:
            unknown.setdefault(label, []).append(row)
    if unknown:
        label, rows = next(iter(unknown.items()))
        others = f" (and {len(unknown) - 1} more unknown labels)" if len(unknown) > 1 else ""
        raise DataError(
            f"label {label!r} is in the validation set ({describe_rows(rows)}) but not in the "
            f"training data{others}: add training examples of it or drop those rows"
        )

"""LabeledTexts (texts, labels and the row of each in the user's file), DataSet, and the split
into training and validation sets. Files of every format are read in core.data.files."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from core.errors import DataError
from core.records import Record

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
    # Multi-label data (core.data.multilabel): the labels of each row, in `classes` order; then
    # `labels` holds each row's labels joined as a file cell ("a|b"), for messages and grouping.
    label_sets: tuple[tuple[str, ...], ...] | None = None

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
        if self.label_sets is not None:
            sets = tuple(tuple(labels) for labels in self.label_sets)
            object.__setattr__(self, "label_sets", sets)
            if len(sets) != len(self.texts):
                raise ValueError(
                    f"label_sets must have one entry per text, got {len(sets)} for "
                    f"{len(self.texts)} texts"
                )

    @property
    def multi_label(self) -> bool:
        """Whether a row can carry several labels (or none)."""
        return self.label_sets is not None

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def row_labels(self) -> tuple[tuple[str, ...], ...]:
        """Each row's labels as a tuple (one label per row unless multi-label)."""
        return self.label_sets if self.label_sets is not None else tuple((x,) for x in self.labels)

    @property
    def classes(self) -> tuple[str, ...]:
        """Distinct labels (empty labels excluded) in a stable order; see sort_labels."""
        if self.label_sets is not None:
            return sort_labels(label for labels in self.label_sets for label in labels)
        return sort_labels(self.labels)

    def class_counts(self) -> dict[str, int]:
        """Number of examples per label, in `classes` order (empty labels not counted); with
        several labels per row, the rows that carry each label."""
        if self.label_sets is not None:
            counts = Counter(label for labels in self.label_sets for label in set(labels))
        else:
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
            label_sets=(
                None if self.label_sets is None else tuple(self.label_sets[i] for i in idx)
            ),
        )

    def without_rows(self, rows: Iterable[int]) -> LabeledTexts:
        """A copy without the examples at these file row numbers."""
        drop = set(rows)
        return self.subset(i for i, row in enumerate(self.rows) if row not in drop)

    def with_texts(self, texts: Sequence[str]) -> LabeledTexts:
        """The same rows and labels with new texts (after cleaning)."""
        if len(texts) != len(self.texts):
            raise ValueError(f"expected {len(self.texts)} texts, got {len(texts)}")
        return LabeledTexts(tuple(texts), self.labels, self.rows, self.name, self.label_sets)

    def fingerprint(self) -> str:
        """sha256 of the (text, label) pairs in order; ignores the name and row numbers. A
        multi-label row hashes its list of labels, so it never collides with a single label."""
        digest = hashlib.sha256()
        values: Iterable[str | list[str]] = (
            self.labels if self.label_sets is None else (list(s) for s in self.label_sets)
        )
        for text, label in zip(self.texts, values, strict=True):
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


def requested_valid_rows(n: int, valid_fraction: float) -> int:
    """The validation rows asked for: `valid_fraction` of all n rows, rounded (halves up)."""
    _check_fraction(valid_fraction)
    return int(_exact(valid_fraction) * n + Fraction(1, 2))


def split_sizes(class_counts: dict[str, int], valid_fraction: float = 0.2) -> dict[str, int]:
    """How many examples of each label `split` puts in the validation set.

    Largest-remainder quotas: the sizes add up to `requested_valid_rows` of all the rows, each
    label's close to its own share (remainders break the rounding, then the label order), with
    two bounds that come first: a label with 2 examples or more gives at least 1 to validation
    and keeps at least 1 for training; a label with a single example stays in training. Where
    the bounds cannot meet the total (150 labels of 3 rows at 0.2: 150, not 90), the sizes are
    what the bounds need. Depends only on the counts and their order, not the seed.
    """
    total = requested_valid_rows(sum(class_counts.values()), valid_fraction)
    fraction = _exact(valid_fraction)
    quota = {label: n * fraction for label, n in class_counts.items()}
    low = {label: 1 if n >= 2 else 0 for label, n in class_counts.items()}
    high = {label: n - 1 if n >= 2 else 0 for label, n in class_counts.items()}
    sizes = {label: min(max(int(quota[label]), low[label]), high[label]) for label in class_counts}
    order = {label: i for i, label in enumerate(class_counts)}
    # Each pass moves every label at most one step, those furthest from their quota first;
    # the differences left after flooring and the bounds are under one per label, so one or
    # two passes finish.
    while (gap := total - sum(sizes.values())) != 0:
        step = 1 if gap > 0 else -1
        room = [
            label
            for label in class_counts
            if (sizes[label] < high[label] if step > 0 else sizes[label] > low[label])
        ]
        if not room:
            break  # the bounds decide (the review says so: core.quality.validation)
        room.sort(key=lambda label: (-step * (quota[label] - sizes[label]), order[label]))
        for label in room[: abs(gap)]:
            sizes[label] += step
    return sizes


def _exact(valid_fraction: float) -> Fraction:
    """The fraction as typed (0.2 is 1/5, not 0.2000000000000000111): quotas and the total
    round as a person would."""
    return Fraction(str(valid_fraction))


def split(data: LabeledTexts, *, valid_fraction: float = 0.2, seed: int = 0) -> DataSet:
    """Stratified, seeded split of one file into training and validation sets.

    Each label gets its share (see split_sizes); the seed chooses which of its rows. Both parts
    keep the file order and row numbers.
    """
    import numpy as np

    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(_strata(data)):
        by_label.setdefault(label, []).append(index)
    counts = strata_counts(data)
    sizes = split_sizes(counts, valid_fraction)
    rng = np.random.default_rng(seed)
    valid_idx: set[int] = set()
    for label in counts:
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


def strata_counts(data: LabeledTexts) -> dict[str, int]:
    """The groups `split` shares out and their rows, in the order it shares them: each label
    (with several labels per row, each row's rarest), rows with no label grouped as ""."""
    counts = Counter(_strata(data))
    # Rows without a label are grouped like a label so the split never fails (check_trainable
    # rejects them in single-label data; in multi-label data they are examples of no label).
    order = ([""] if "" in counts else []) + list(sort_labels(counts))
    return {label: counts[label] for label in order}


def _strata(data: LabeledTexts) -> tuple[str, ...]:
    """What the split stratifies on: the label, or with several labels per row the row's rarest
    label (so that rare labels reach the validation set too; rows with no label together)."""
    if data.label_sets is None:
        return data.labels
    counts = data.class_counts()
    return tuple(
        min(labels, key=lambda label: (counts[label], label)) if labels else ""
        for labels in data.label_sets
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


@dataclass(frozen=True)
class TrainingData(Record):
    """The labelled rows a finetune learns from, before the split: the training rows, the
    validation file's rows when there is one, and the share of each label to hold out when there
    is not. The run's seed makes the split (`split(seed)`), so the app, the command line and
    Python give one file with one seed the same split and the same run."""

    train: LabeledTexts
    valid: LabeledTexts | None = None
    valid_fraction: float = 0.2

    def __post_init__(self) -> None:
        _check_fraction(self.valid_fraction)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes

    def split(self, seed: int) -> DataSet:
        """The training and validation sets a run with this seed uses."""
        return make_dataset(self.train, self.valid, valid_fraction=self.valid_fraction, seed=seed)

    def sizes(self) -> tuple[int, int]:
        """(training, validation) examples after the split, whatever the seed."""
        if self.valid is not None:
            return len(self.train), len(self.valid)
        sizes = split_sizes(strata_counts(self.train), self.valid_fraction)
        held_out = sum(sizes.values())
        return len(self.train) - held_out, held_out

    def fingerprint(self) -> str:
        """sha256 over the rows (with their row numbers and names) and the validation share:
        the key this data is saved under."""
        payload = {
            "train": [self.train.fingerprint(), list(self.train.rows), self.train.name],
            "valid": None
            if self.valid is None
            else [self.valid.fingerprint(), list(self.valid.rows), self.valid.name],
            "valid_fraction": self.valid_fraction,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def unknown_label_rows(data: LabeledTexts, known: Iterable[str]) -> dict[str, list[int]]:
    """The labels of `data` outside `known`, each with its rows in the file, in the order met."""
    known = set(known)
    found: dict[str, list[int]] = {}
    for row, labels in zip(data.rows, data.row_labels, strict=True):
        for label in labels:
            if label not in known:
                found.setdefault(label, []).append(row)
    return found


def too_few_labels(classes: Sequence[str]) -> str | None:
    """Why these training labels cannot make a classifier (fewer than 2), or None."""
    if len(classes) >= 2:
        return None
    found = f"only one label ({classes[0]!r})" if classes else "no labels"
    return f"the training data has {found}: a classifier needs at least 2 labels"


def check_trainable(data: DataSet) -> None:
    """Raise DataError if the data set cannot be trained on as it is."""
    classes = data.train.classes
    if (problem := too_few_labels(classes)) is not None:
        raise DataError(problem)
    if len(data.valid) == 0:
        raise DataError(
            "the validation set is empty: give a validation file, or add rows so that each label "
            "has at least 2 examples to split"
        )
    in_file = " of the validation file" if data.valid_source == "file" else ""
    for where, part in (("", data.train), (in_file, data.valid)):
        checked = [("text", part.texts), ("label", part.labels)]
        # A multi-label row without labels is an example of none of them, not a mistake.
        for what, values in checked[:1] if data.train.multi_label else checked:
            rows = [row for row, value in zip(part.rows, values, strict=True) if value == ""]
            if rows:
                raise DataError(
                    f"{describe_rows(rows)}{where}: empty {what}; "
                    "drop the flagged rows or fix the file"
                )
    if unknown := unknown_label_rows(data.valid, classes):
        label, rows = next(iter(unknown.items()))
        others = f" (and {len(unknown) - 1} more unknown labels)" if len(unknown) > 1 else ""
        raise DataError(
            f"label {label!r} is in the validation set ({describe_rows(rows)}) but not in the "
            f"training data{others}: add training examples of it or drop those rows"
        )

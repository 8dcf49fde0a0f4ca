"""What the review looks for in the rows, as data (the words are in core.quality.findings): token
counts, empty texts and labels, rare labels, imbalance, exact duplicates, conflicting labels and
texts in both files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.data.labeled import LabeledTexts
from core.data.multilabel import SEPARATOR
from core.records import Record

MIN_EXAMPLES = 250
"""Below this many training examples a finetune is unreliable (allowed, with a warning)."""
RECOMMENDED_EXAMPLES = 500
"""From this many training examples results are usually stable."""
RARE_LABEL_EXAMPLES = 5
"""A label with fewer examples than this cannot be learned or measured reliably."""
IMBALANCE_RATIO = 3.0
"""Largest/smallest class above this: plain cross-entropy starts to favour the large classes."""
TOKEN_BATCH = 1000
"""Texts tokenized per call: bounds memory on large files while keeping the fast path fast."""


@dataclass(frozen=True)
class TokenStats(Record):
    """Token counts of a split's texts with the base model's tokenizer (special tokens included)."""

    mean: float
    median: float
    p95: float
    max: int
    max_tokens: int | None  # the model's limit; None when unknown
    truncated_rows: tuple[int, ...]  # rows longer than max_tokens: cut at training and prediction

    @property
    def truncated(self) -> int:
        return len(self.truncated_rows)


@dataclass(frozen=True)
class DuplicateGroup(Record):
    """Rows with the same text and label; all but the first can be dropped."""

    split: str
    text: str
    label: str
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Conflict(Record):
    """One text given different labels on different rows."""

    split: str
    text: str
    rows: tuple[int, ...]
    labels: tuple[str, ...]  # the label of each row, in the same order


@dataclass(frozen=True)
class Leak(Record):
    """A text present in both the training and the validation file."""

    text: str
    train_rows: tuple[int, ...]
    valid_rows: tuple[int, ...]


def token_stats(
    data: LabeledTexts, tokenizer: Callable[..., Any], max_tokens: int | None = None
) -> TokenStats:
    """Token counts of the texts, tokenized in batches of TOKEN_BATCH without truncation."""
    import numpy as np

    lengths = np.zeros(len(data), dtype=np.int64)
    for start in range(0, len(data), TOKEN_BATCH):
        batch = list(data.texts[start : start + TOKEN_BATCH])
        encoded = tokenizer(
            batch,
            add_special_tokens=True,
            truncation=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # no "sequence longer than the maximum" warning: we report it
        )
        lengths[start : start + len(batch)] = [len(ids) for ids in encoded["input_ids"]]
    if len(data) == 0:
        return TokenStats(0.0, 0.0, 0.0, 0, max_tokens, ())
    truncated: tuple[int, ...] = ()
    if max_tokens is not None:
        truncated = tuple(
            row for row, n in zip(data.rows, lengths.tolist(), strict=True) if n > max_tokens
        )
    return TokenStats(
        mean=round(float(lengths.mean()), 2),
        median=float(np.median(lengths)),
        p95=float(np.percentile(lengths, 95)),
        max=int(lengths.max()),
        max_tokens=max_tokens,
        truncated_rows=truncated,
    )


def labelled_examples(train: LabeledTexts, counts: dict[str, int]) -> int:
    """The labelled training examples; a multi-label row counts once however many labels it
    carries."""
    return sum(1 for s in train.label_sets if s) if train.label_sets else sum(counts.values())


def rare_labels(counts: dict[str, int]) -> dict[str, int]:
    """The labels with fewer than RARE_LABEL_EXAMPLES examples, with their counts."""
    return {label: k for label, k in counts.items() if k < RARE_LABEL_EXAMPLES}


def imbalance_ratio(counts: dict[str, int]) -> float | None:
    """Largest / smallest label's examples; None with fewer than 2 labels."""
    if len(counts) < 2:
        return None
    return max(counts.values()) / min(counts.values())


def empty_rows(data: LabeledTexts) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The rows with an empty text, and those with an empty label (in multi-label data: the rows
    that carry no label)."""
    empty_text = tuple(row for row, text in zip(data.rows, data.texts, strict=True) if not text)
    empty_label = tuple(row for row, lab in zip(data.rows, data.labels, strict=True) if not lab)
    return empty_text, empty_label


def joined_label_rows(data: LabeledTexts) -> tuple[int, ...]:
    """Single-label rows whose label contains the multi-label separator (several labels read as
    one, perhaps)."""
    if data.multi_label:
        return ()
    return tuple(r for r, lab in zip(data.rows, data.labels, strict=True) if SEPARATOR in lab)


def duplicates_and_conflicts(
    split_name: str, data: LabeledTexts
) -> tuple[list[DuplicateGroup], list[Conflict]]:
    """Exact (text, label) duplicates, and texts given more than one label, in file order."""
    by_text: dict[str, list[tuple[int, str]]] = {}
    for row, text, label in zip(data.rows, data.texts, data.labels, strict=True):
        if text:  # empty texts are reported on their own
            by_text.setdefault(text, []).append((row, label))
    groups, conflicts = [], []
    for text, items in by_text.items():
        if len(items) < 2:
            continue
        by_label: dict[str, list[int]] = {}
        for row, label in items:
            by_label.setdefault(label, []).append(row)
        for label, rows in by_label.items():
            if len(rows) > 1:
                groups.append(DuplicateGroup(split_name, text, label, tuple(rows)))
        if len(by_label) > 1:
            conflicts.append(
                Conflict(
                    split_name,
                    text,
                    tuple(row for row, _ in items),
                    tuple(label for _, label in items),
                )
            )
    return groups, conflicts


def leakage(train: LabeledTexts, valid: LabeledTexts) -> list[Leak]:
    """Texts of the validation file that also occur in the training file."""
    train_rows: dict[str, list[int]] = {}
    for row, text in zip(train.rows, train.texts, strict=True):
        if text:
            train_rows.setdefault(text, []).append(row)
    valid_rows: dict[str, list[int]] = {}
    for row, text in zip(valid.rows, valid.texts, strict=True):
        if text in train_rows:
            valid_rows.setdefault(text, []).append(row)
    return [Leak(text, tuple(train_rows[text]), tuple(rows)) for text, rows in valid_rows.items()]


def missing_labels(classes: Sequence[str], valid_counts: dict[str, int]) -> list[str]:
    """Training labels without a validation example."""
    return [label for label in classes if valid_counts.get(label, 0) == 0]


def unknown_labels(valid: LabeledTexts, classes: Sequence[str]) -> list[str]:
    """Validation labels the training data lacks."""
    return sorted(set(valid.classes) - set(classes))

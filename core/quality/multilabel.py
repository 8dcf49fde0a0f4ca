"""The review's multi-label figures: labels per row, rows with no label, the label pairs that
occur together most, and the guidance checks in their multi-label form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from core.data.labeled import LabeledTexts, describe_rows
from core.records import Record

TOP_PAIRS = 10
"""Co-occurring label pairs the review lists."""


@dataclass(frozen=True)
class LabelPair(Record):
    """Two labels given together, and on how many rows."""

    first: str
    second: str
    rows: int


@dataclass(frozen=True)
class MultiLabelStats(Record):
    """How the labels of a multi-label file are spread over its rows."""

    rows: int
    mean_labels: float  # labels per row
    max_labels: int
    multi_rows: int  # rows with two labels or more
    no_label_rows: tuple[int, ...]  # file rows that carry no label
    label_counts: dict[str, int]  # rows carrying each label
    pairs: tuple[LabelPair, ...]  # the pairs given together most, most frequent first

    def to_text(self) -> str:
        lines = [
            f"labels per row:      mean {self.mean_labels:.2f}, max {self.max_labels}; "
            f"{self.multi_rows} rows with 2+ labels, {len(self.no_label_rows)} with none",
        ]
        if self.pairs:
            shown = ", ".join(f"{p.first} + {p.second} ({p.rows})" for p in self.pairs[:5])
            lines.append(f"labels given together most: {shown}")
        return "\n".join(lines)


def multilabel_stats(data: LabeledTexts) -> MultiLabelStats:
    """The figures of one multi-label split (single-label data: one label per row)."""
    sets = data.row_labels
    sizes = [len(labels) for labels in sets]
    pairs: Counter[tuple[str, str]] = Counter()
    for labels in sets:
        pairs.update(combinations(sorted(labels), 2))
    top = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:TOP_PAIRS]
    return MultiLabelStats(
        rows=len(sets),
        mean_labels=round(sum(sizes) / len(sizes), 4) if sizes else 0.0,
        max_labels=max(sizes, default=0),
        multi_rows=sum(1 for n in sizes if n >= 2),
        no_label_rows=tuple(row for row, n in zip(data.rows, sizes, strict=True) if n == 0),
        label_counts=data.class_counts(),
        pairs=tuple(LabelPair(a, b, n) for (a, b), n in top),
    )


def rows_with(data: LabeledTexts, labels: set[str]) -> tuple[int, ...]:
    """File rows that carry any of these labels."""
    return tuple(row for row, s in zip(data.rows, data.row_labels, strict=True) if labels & set(s))


def no_label_message(rows: tuple[int, ...]) -> str:
    """The review's note on multi-label rows without a label."""
    many = len(rows) != 1
    return (
        f"{len(rows)} {'rows carry' if many else 'row carries'} no label "
        f"({describe_rows(rows)}): in multi-label data {'they teach' if many else 'it teaches'} "
        "the model that none of the labels applies; drop them if they were left unlabelled "
        "by mistake"
    )

"""The user's choices for the rows the label check flagged: keep, relabel (the suggested label)
or drop, one by one or above a confidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.data.labeled import LabeledTexts, describe_rows
from core.errors import DataError

if TYPE_CHECKING:
    from core.quality.label_issues import LabelIssues

CHOICES = ("keep", "relabel", "drop")
"""What the user can do with a flagged row; "keep" is the default and changes nothing."""


def apply_choices(
    data: LabeledTexts, result: LabelIssues, choices: Mapping[int, str]
) -> LabeledTexts:
    """The data with the user's choices applied, by file row: "relabel" gives a flagged row its
    suggested label, "drop" removes it, "keep" (and any row not chosen) leaves it as it is.
    The name records what changed, so a run trained on it says so."""
    bad = {row: choice for row, choice in choices.items() if choice not in CHOICES}
    if bad:
        row, choice = next(iter(bad.items()))
        raise DataError(f"row {row}: unknown choice {choice!r}: choose one of {', '.join(CHOICES)}")
    suggested = {issue.row: issue.suggested_label for issue in result.issues}
    unknown = sorted(
        row for row, choice in choices.items() if choice != "keep" and row not in suggested
    )
    if unknown:
        raise DataError(
            f"not flagged by the label check ({describe_rows(unknown)}): only flagged rows can be "
            "relabelled or dropped"
        )
    relabel = {row for row, choice in choices.items() if choice == "relabel"}
    drop = {row for row, choice in choices.items() if choice == "drop"}
    if not relabel and not drop:
        return data
    labels = tuple(
        suggested[row] if row in relabel else label
        for row, label in zip(data.rows, data.labels, strict=True)
    )
    if data.multi_label:  # a suggestion is a cell of labels ("a|b"), as `labels` holds them
        from core.data.multilabel import from_label_sets, split_cell

        edited = from_label_sets(
            data.texts,
            [split_cell(cell) for cell in labels],
            data.rows,
            f"{data.name} (label check: {len(relabel)} relabelled, {len(drop)} dropped)",
        )
        return edited.without_rows(drop)
    note = ", ".join(
        part
        for part in (
            f"{len(relabel)} relabelled" if relabel else "",
            f"{len(drop)} dropped" if drop else "",
        )
        if part
    )
    edited = LabeledTexts(data.texts, labels, data.rows, f"{data.name} (label check: {note})")
    return edited.without_rows(drop)


def choices_above(result: LabelIssues, confidence: float, choice: str) -> dict[int, str]:
    """`choice` for every flagged row whose suggested label has at least this confidence."""
    return {
        issue.row: choice for issue in result.issues if issue.suggested_confidence >= confidence
    }

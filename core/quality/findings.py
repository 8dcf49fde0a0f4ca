"""The review's findings: what each check found (core.quality.checks) in words a person can act
on, with the rows concerned and how much it matters ('error' blocks training)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.data.cleaning import TextChange
from core.data.labeled import LabeledTexts, describe_rows, sort_labels, too_few_labels
from core.data.multilabel import SEPARATOR
from core.quality.checks import (
    IMBALANCE_RATIO,
    MIN_EXAMPLES,
    RARE_LABEL_EXAMPLES,
    RECOMMENDED_EXAMPLES,
    Conflict,
    DuplicateGroup,
    Leak,
    TokenStats,
    empty_rows,
    joined_label_rows,
    labelled_examples,
    rare_labels,
)
from core.quality.multilabel import no_label_message, rows_with
from core.records import Record

LABELS_SHOWN = 10
"""Labels a finding lists by name before "and N more": a message stays readable at 150 labels."""
SEVERITIES = ("error", "warning", "info")
SPLITS = ("train", "valid")


@dataclass(frozen=True)
class Finding(Record):
    """One thing the review noticed: 'error' blocks training, 'warning'/'info' do not."""

    code: str
    severity: str
    message: str
    rows: tuple[int, ...] = ()
    split: str = "train"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        object.__setattr__(self, "rows", tuple(self.rows))


def label_findings(
    train: LabeledTexts, counts: dict[str, int], held_out: dict[str, int] | None = None
) -> list[Finding]:
    """Too few labels, too few examples, rare labels (with how the automatic split shares each
    rare label's rows out, when `held_out` gives its validation rows)."""
    findings = []
    if (problem := too_few_labels(list(counts))) is not None:
        findings.append(Finding("too_few_labels", "error", problem))
    n = labelled_examples(train, counts)
    if n < MIN_EXAMPLES:
        findings.append(
            Finding(
                "too_few_examples",
                "warning",
                f"only {n} labelled training examples: at least {MIN_EXAMPLES} are needed for a "
                f"reliable finetune and {RECOMMENDED_EXAMPLES}+ are recommended; you can train, "
                "but expect weak and unstable results",
            )
        )
    elif n < RECOMMENDED_EXAMPLES:
        findings.append(
            Finding(
                "below_recommended",
                "info",
                f"{n} labelled training examples: enough to train, but {RECOMMENDED_EXAMPLES}+ "
                "usually give clearly better and more stable results",
            )
        )
    rare = rare_labels(counts)
    if rare:
        rows = rows_with(train, set(rare))
        shown = list(rare.items())[:LABELS_SHOWN]
        listed = ", ".join(
            f"{label!r} ({k})"
            if held_out is None
            else f"{label!r} ({k}: {k - held_out[label]} training, {held_out[label]} validation)"
            for label, k in shown
        )
        if len(rare) > len(shown):
            listed += f" and {len(rare) - len(shown)} more"
        # Dropping every label would leave nothing to train on: then only adding helps.
        remedy = "add examples" if len(rare) == len(counts) else "add examples or drop these labels"
        findings.append(
            Finding(
                "rare_labels",
                "warning",
                f"{count(len(rare), 'label has', 'labels have')}"
                f" fewer than {RARE_LABEL_EXAMPLES} examples: {listed}; "
                f"the model can hardly learn them and their scores mean little: {remedy}",
                rows,
            )
        )
    return findings


def imbalance_finding(counts: dict[str, int], ratio: float | None) -> Finding | None:
    """A warning when the largest label outnumbers the smallest by more than IMBALANCE_RATIO."""
    if ratio is None or ratio <= IMBALANCE_RATIO:
        return None
    big = max(counts, key=counts.__getitem__)
    small = min(counts, key=counts.__getitem__)
    return Finding(
        "imbalance",
        "warning",
        f"the labels are imbalanced: {big!r} has {counts[big]} examples, "
        f"{small!r} {counts[small]} ({ratio:.1f} to 1); above "
        f"{IMBALANCE_RATIO:g} to 1 a classifier tends to favour the large labels and "
        "accuracy hides it: add examples of the small labels or drop some of the "
        "large ones, and watch macro-F1",
    )


def empty_findings(
    split_name: str, data: LabeledTexts, changes: Sequence[TextChange]
) -> list[Finding]:
    """Empty texts and labels (errors), and texts that only the cleaning emptied."""
    findings = []
    empty_text, empty_label = empty_rows(data)
    joined = joined_label_rows(data)
    if data.multi_label:
        if empty_label:  # no label is an answer in multi-label data, not a gap
            findings.append(
                Finding("no_label", "info", no_label_message(empty_label), (), split_name)
            )
        empty_label = ()
    elif joined:
        findings.append(
            Finding(
                "separator_in_labels",
                "info",
                f"{count(len(joined), 'label contains', 'labels contain')} {SEPARATOR!r} "
                f"({describe_rows(joined)}): if these rows carry several labels joined by "
                f"{SEPARATOR!r}, read the file as multi-label (--multi-label; on the Data page, "
                "several labels per row); else each combination is a label of its own",
                joined,
                split_name,
            )
        )
    if empty_text:
        findings.append(
            Finding(
                "empty_text",
                "error",
                f"{count(len(empty_text), 'empty text', 'empty texts')}"
                f" ({describe_rows(empty_text)}): drop them or "
                "fill them in",
                empty_text,
                split_name,
            )
        )
    if empty_label:
        findings.append(
            Finding(
                "empty_label",
                "error",
                f"{count(len(empty_label), 'row', 'rows')}"
                f" without a label ({describe_rows(empty_label)}): drop "
                "them or label them",
                empty_label,
                split_name,
            )
        )
    emptied = tuple(change.row for change in changes if not change.after)
    if emptied:
        findings.append(
            Finding(
                "cleaned_to_empty",
                "warning",
                f"cleaning leaves {count(len(emptied), 'text', 'texts')}"
                f" empty ({describe_rows(emptied)}): "
                "they are reported as empty texts; drop them or turn off a cleaning rule",
                emptied,
                split_name,
            )
        )
    return findings


def duplicate_findings(
    split_name: str,
    groups: Sequence[DuplicateGroup],
    conflicts: Sequence[Conflict],
    valid_source: str,
) -> list[Finding]:
    """Rows that repeat an earlier row's text and label, and texts with more than one label."""
    findings = []
    if groups:
        extra = tuple(sorted(row for group in groups for row in group.rows[1:]))
        why = (
            "an automatic split can put copies on both sides and flatter the validation score"
            if split_name == "train" and valid_source == "split"
            else "they weigh those texts more than the others"
        )
        findings.append(
            Finding(
                "duplicates",
                "warning",
                f"{count(len(extra), 'row repeats', 'rows repeat')}"
                f" an earlier row's text and label "
                f"({describe_rows(extra)}): {why}; drop the copies (the first is kept)",
                extra,
                split_name,
            )
        )
    if conflicts:
        rows = tuple(sorted(row for conflict in conflicts for row in conflict.rows))
        first = conflicts[0]
        labels = " and ".join(repr(label) for label in sort_labels(first.labels))
        findings.append(
            Finding(
                "conflicting_labels",
                "warning",
                f"{count(len(conflicts), 'text has', 'texts have')} more than one label, e.g. "
                f"{shorten(first.text)!r} is {labels} "
                f"({describe_rows(first.rows)}): the model cannot be right on both; fix the "
                "labels or drop these rows",
                rows,
                split_name,
            )
        )
    return findings


def truncated_finding(split_name: str, stats: TokenStats) -> Finding | None:
    """Texts longer than the base model reads."""
    if not stats.truncated:
        return None
    return Finding(
        "truncated",
        "warning",
        f"{stats.truncated} texts are longer than the base model's "
        f"{stats.max_tokens} tokens ({describe_rows(stats.truncated_rows)}): "
        "only their beginning is used, at training and at prediction",
        stats.truncated_rows,
        split_name,
    )


def leakage_finding(leaks: Sequence[Leak]) -> Finding | None:
    """Validation texts that are also training texts."""
    if not leaks:
        return None
    rows = tuple(sorted(row for leak in leaks for row in leak.valid_rows))
    return Finding(
        "leakage",
        "warning",
        f"{len(leaks)} validation "
        f"{'text also appears' if len(leaks) == 1 else 'texts also appear'}"
        f" in the training data "
        f"(validation {describe_rows(rows)}): the validation score will look better "
        "than it is; drop them from the validation set",
        rows,
        "valid",
    )


def missing_finding(missing: Sequence[str]) -> Finding | None:
    """Training labels without a validation example."""
    if not missing:
        return None
    return Finding(
        "missing_in_valid",
        "info",
        f"{count(len(missing), 'label has', 'labels have')} no validation examples: "
        f"{', '.join(repr(label) for label in missing)}; their scores cannot be "
        "measured",
        (),
        "valid",
    )


def unknown_finding(valid: LabeledTexts, unknown: Sequence[str]) -> Finding | None:
    """Validation labels the training data lacks (an error: the model cannot learn them)."""
    if not unknown:
        return None
    rows = rows_with(valid, set(unknown))
    return Finding(
        "unknown_labels",
        "error",
        f"validation labels not in the training data: "
        f"{', '.join(repr(label) for label in unknown)} ({describe_rows(rows)}): "
        "the model cannot learn them; add training examples or drop those rows",
        rows,
        "valid",
    )


def count(n: int, one: str, many: str) -> str:
    """'1 row repeats' / '3 rows repeat': the number with the right form of the words."""
    return f"{n} {one if n == 1 else many}"


def shorten(text: str, limit: int = 60) -> str:
    """A long text cut for a message."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."

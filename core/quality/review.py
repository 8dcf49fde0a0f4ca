"""The data review: counts, guidance checks, token lengths, duplicates, conflicts and leakage
gathered into one Review (the checks: core.quality.checks; their words: core.quality.findings)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.data.cleaning import CleaningConfig, TextChange, clean
from core.data.labeled import LabeledTexts, split
from core.quality.checks import (
    Conflict,
    DuplicateGroup,
    Leak,
    TokenStats,
    duplicates_and_conflicts,
    imbalance_ratio,
    leakage,
    missing_labels,
    token_stats,
    unknown_labels,
)
from core.quality.findings import (
    SPLITS,
    Finding,
    duplicate_findings,
    empty_findings,
    imbalance_finding,
    label_findings,
    leakage_finding,
    missing_finding,
    shorten,
    truncated_finding,
    unknown_finding,
)
from core.quality.multilabel import MultiLabelStats, multilabel_stats
from core.quality.validation import RUN_SEED, share_message, thin_message
from core.records import Record

DROP_KINDS: dict[str, tuple[str, ...]] = {
    "empty": ("empty_text", "empty_label"),
    "duplicates": ("duplicates",),
    "conflicting": ("conflicting_labels",),
    "rare_labels": ("rare_labels",),
    "leakage": ("leakage",),
}
"""The user's drop choices and the findings whose rows each one drops."""


@dataclass(frozen=True)
class Review(Record):
    """Everything the user should know about the data before training, JSON-serialisable.

    With an automatic split, the training and validation counts are those of the run's own
    split (`split` with the run's share and seed); every other figure is about the file.
    """

    train_rows: int
    valid_rows: int
    valid_source: str  # "file" or "split"
    valid_fraction: float | None
    classes: tuple[str, ...]
    train_counts: dict[str, int]
    valid_counts: dict[str, int]
    imbalance_ratio: float | None  # largest / smallest training class; None with < 2 labels
    train_tokens: TokenStats | None
    valid_tokens: TokenStats | None
    duplicates: tuple[DuplicateGroup, ...]
    conflicts: tuple[Conflict, ...]
    leakage: tuple[Leak, ...]
    cleaning: CleaningConfig | None  # None when no cleaning rule is on
    changes: tuple[TextChange, ...]  # training texts the cleaning changed
    valid_changes: tuple[TextChange, ...]  # validation-file texts the cleaning changed
    findings: tuple[Finding, ...]
    multilabel: MultiLabelStats | None = None  # the training file's, for multi-label data
    seed: int | None = None  # the seed of the automatic split previewed (None: a file)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def ok(self) -> bool:
        """True when nothing blocks training (no 'error' finding)."""
        return not any(finding.severity == "error" for finding in self.findings)

    def codes(self) -> set[str]:
        """The codes of all findings."""
        return {finding.code for finding in self.findings}

    def finding(self, code: str, split: str = "train") -> Finding | None:
        """The finding with this code in this split, if any."""
        for item in self.findings:
            if item.code == code and item.split == split:
                return item
        return None

    def to_text(self) -> str:
        """A plain-text report for the terminal."""
        if self.valid_source == "file":
            how = "from the validation file"
        else:
            how = f"automatic split by label, {self.valid_fraction:.0%} asked, seed {self.seed}"
        lines = [
            f"training examples:   {self.train_rows}",
            f"validation examples: {self.valid_rows} ({how})",
            f"labels:              {self.num_classes}",
        ]
        if self.multilabel is not None:
            lines.append(self.multilabel.to_text())
        if self.imbalance_ratio is not None:
            lines.append(f"imbalance:           {self.imbalance_ratio:.1f} (largest / smallest)")
        width = max([len("label")] + [len(label) for label in self.classes])
        lines.append("")
        lines.append(f"  {'label':<{width}}  {'train':>7}  {'valid':>7}")
        for label in self.classes:
            train, valid = self.train_counts.get(label, 0), self.valid_counts.get(label, 0)
            lines.append(f"  {label:<{width}}  {train:>7}  {valid:>7}")
        token_parts = (("training", self.train_tokens), ("validation", self.valid_tokens))
        for split_name, stats in token_parts:
            if stats is not None:
                limit = f", {stats.truncated} over {stats.max_tokens}" if stats.max_tokens else ""
                lines.append(
                    f"tokens ({split_name}): mean {stats.mean:.1f}, median {stats.median:.0f}, "
                    f"p95 {stats.p95:.0f}, max {stats.max}{limit}"
                )
        if self.cleaning is not None:
            changed = len(self.changes) + len(self.valid_changes)
            lines.append(f"cleaning ({', '.join(self.cleaning.rules)}) changed {changed} texts")
            for change in self.changes[:3]:
                lines.append(
                    f"  row {change.row}: {shorten(change.before)!r} -> {shorten(change.after)!r}"
                )
        lines.append("")
        if not self.findings:
            lines.append("no problems found")
        for finding in self.findings:
            where = " (validation)" if finding.split == "valid" else ""
            lines.append(f"{finding.severity}{where}: {finding.message}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- the review


def review(
    train: LabeledTexts,
    valid: LabeledTexts | None = None,
    *,
    tokenizer: Callable[..., Any] | None = None,
    max_tokens: int | None = None,
    cleaning: CleaningConfig | None = None,
    valid_fraction: float = 0.2,
    seed: int = RUN_SEED,
) -> Review:
    """Review the training data (and the validation file, if any) before training.

    Without a validation file the counts are those of the run's split: give the share and the
    seed the run will use (`seed` defaults to the run's). With cleaning, the figures are about
    the cleaned texts (what the model will see) and the changes are listed. Token figures need
    the base model's tokenizer; without it they are None.
    """
    changed: dict[str, list[TextChange]] = {"train": [], "valid": []}
    if cleaning is not None and cleaning.enabled:
        train, changed["train"] = clean(train, cleaning)
        if valid is not None:
            valid, changed["valid"] = clean(valid, cleaning)
    else:
        cleaning = None

    classes = train.classes
    file_counts = train.class_counts()
    split_findings: list[Finding] = []  # said after the labels' own findings
    if valid is None:
        # The run's own split: the same function, share and seed (which rows of a multi-label
        # file are held out depends on the seed; how many of each label, on the counts only).
        planned = split(train, valid_fraction=valid_fraction, seed=seed)
        held_train, held_valid = planned.train.class_counts(), planned.valid.class_counts()
        train_counts = {label: held_train.get(label, 0) for label in classes}
        valid_counts = {label: held_valid.get(label, 0) for label in classes}
        train_rows, valid_rows = len(planned.train), len(planned.valid)
        source, fraction, split_seed = "split", valid_fraction, seed
        share = share_message(train, valid_rows, valid_fraction)
        if share is not None:
            split_findings.append(Finding("split_share", "info", share, (), "valid"))
    else:
        train_counts = file_counts
        valid_all = valid.class_counts()
        # Labels of the training set first, then any the training set lacks (an error finding).
        valid_counts = {label: valid_all.get(label, 0) for label in classes}
        valid_counts.update({k: n for k, n in valid_all.items() if k not in valid_counts})
        train_rows, valid_rows = len(train), len(valid)
        source, fraction, split_seed = "file", None, None
    thin = thin_message({label: valid_counts[label] for label in classes}, valid_rows, source)
    if thin is not None:
        split_findings.append(Finding("thin_validation", "warning", thin, (), "valid"))

    held_out = valid_counts if source == "split" else None
    findings = label_findings(train, file_counts, held_out)
    ratio = imbalance_ratio(file_counts)
    findings += _present(imbalance_finding(file_counts, ratio))
    findings += split_findings

    parts = [("train", train)] + ([("valid", valid)] if valid is not None else [])
    duplicates: list[DuplicateGroup] = []
    conflicts: list[Conflict] = []
    tokens: dict[str, TokenStats | None] = {"train": None, "valid": None}
    for split_name, part in parts:
        findings += empty_findings(split_name, part, changed[split_name])
        groups, found_conflicts = duplicates_and_conflicts(split_name, part)
        duplicates += groups
        conflicts += found_conflicts
        findings += duplicate_findings(split_name, groups, found_conflicts, source)
        if tokenizer is not None:
            stats = token_stats(part, tokenizer, max_tokens)
            tokens[split_name] = stats
            findings += _present(truncated_finding(split_name, stats))

    leaks: list[Leak] = []
    if valid is not None:
        leaks = leakage(train, valid)
        findings += _present(leakage_finding(leaks))
        findings += _present(missing_finding(missing_labels(classes, valid_counts)))
        findings += _present(unknown_finding(valid, unknown_labels(valid, classes)))

    return Review(
        train_rows=train_rows,
        valid_rows=valid_rows,
        valid_source=source,
        valid_fraction=fraction,
        classes=classes,
        train_counts=train_counts,
        valid_counts=valid_counts,
        imbalance_ratio=ratio,
        train_tokens=tokens["train"],
        valid_tokens=tokens["valid"],
        duplicates=tuple(duplicates),
        conflicts=tuple(conflicts),
        leakage=tuple(leaks),
        cleaning=cleaning,
        changes=tuple(changed["train"]),
        valid_changes=tuple(changed["valid"]),
        findings=tuple(findings),
        multilabel=multilabel_stats(train) if train.multi_label else None,
        seed=split_seed,
    )


def _present(finding: Finding | None) -> list[Finding]:
    return [] if finding is None else [finding]


def droppable_rows(review: Review, kinds: Iterable[str]) -> dict[str, set[int]]:
    """The rows to drop from each split for the user's choices.

    kinds are keys of DROP_KINDS ("empty", "duplicates", "conflicting", "rare_labels",
    "leakage") or finding codes. Duplicates keep their first row.
    """
    codes: set[str] = set()
    for kind in kinds:
        if kind in DROP_KINDS:
            codes.update(DROP_KINDS[kind])
        elif any(kind in group for group in DROP_KINDS.values()):
            codes.add(kind)
        else:
            raise ValueError(
                f"unknown kind of rows to drop {kind!r}: expected one of {sorted(DROP_KINDS)}"
            )
    drops: dict[str, set[int]] = {split_name: set() for split_name in SPLITS}
    for finding in review.findings:
        if finding.code in codes:
            drops[finding.split].update(finding.rows)
    return drops

"""The data review: counts, guidance checks, token lengths, duplicates, conflicts and leakage."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.data.cleaning import CleaningConfig, TextChange, clean
from core.data.labeled import LabeledTexts, describe_rows, sort_labels, split
from core.data.multilabel import SEPARATOR
from core.quality.multilabel import (
    MultiLabelStats,
    multilabel_stats,
    no_label_message,
    rows_with,
)
from core.quality.validation import RUN_SEED, share_message, thin_message
from core.records import Record

MIN_EXAMPLES = 250
"""Below this many training examples a finetune is unreliable (allowed, with a warning)."""
RECOMMENDED_EXAMPLES = 500
"""From this many training examples results are usually stable."""
RARE_LABEL_EXAMPLES = 5
"""A label with fewer examples than this cannot be learned or measured reliably."""
IMBALANCE_RATIO = 3.0
"""Largest/smallest class above this: plain cross-entropy starts to favour the large classes."""
LABELS_SHOWN = 10
"""Labels a finding lists by name before "and N more": a message stays readable at 150 labels."""
TOKEN_BATCH = 1000
"""Texts tokenized per call: bounds memory on large files while keeping the fast path fast."""

SEVERITIES = ("error", "warning", "info")
SPLITS = ("train", "valid")

DROP_KINDS: dict[str, tuple[str, ...]] = {
    "empty": ("empty_text", "empty_label"),
    "duplicates": ("duplicates",),
    "conflicting": ("conflicting_labels",),
    "rare_labels": ("rare_labels",),
    "leakage": ("leakage",),
}
"""The user's drop choices and the findings whose rows each one drops."""


# ----------------------------------------------------------------------------- records


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
                    f"  row {change.row}: {_shorten(change.before)!r} -> {_shorten(change.after)!r}"
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
    findings = _label_findings(train, file_counts, held_out)
    ratio = None
    if len(file_counts) >= 2:
        ratio = max(file_counts.values()) / min(file_counts.values())
        if ratio > IMBALANCE_RATIO:
            big = max(file_counts, key=file_counts.__getitem__)
            small = min(file_counts, key=file_counts.__getitem__)
            findings.append(
                Finding(
                    "imbalance",
                    "warning",
                    f"the labels are imbalanced: {big!r} has {file_counts[big]} examples, "
                    f"{small!r} {file_counts[small]} ({ratio:.1f} to 1); above "
                    f"{IMBALANCE_RATIO:g} to 1 a classifier tends to favour the large labels and "
                    "accuracy hides it: add examples of the small labels or drop some of the "
                    "large ones, and watch macro-F1",
                )
            )
    findings += split_findings

    parts = [("train", train)] + ([("valid", valid)] if valid is not None else [])
    duplicates: list[DuplicateGroup] = []
    conflicts: list[Conflict] = []
    tokens: dict[str, TokenStats | None] = {"train": None, "valid": None}
    for split_name, part in parts:
        findings += _empty_findings(split_name, part, changed[split_name])
        groups, found_conflicts = _duplicates_and_conflicts(split_name, part)
        duplicates += groups
        conflicts += found_conflicts
        findings += _duplicate_findings(split_name, groups, found_conflicts, source)
        if tokenizer is not None:
            stats = token_stats(part, tokenizer, max_tokens)
            tokens[split_name] = stats
            if stats.truncated:
                findings.append(
                    Finding(
                        "truncated",
                        "warning",
                        f"{stats.truncated} texts are longer than the base model's "
                        f"{stats.max_tokens} tokens ({describe_rows(stats.truncated_rows)}): "
                        "only their beginning is used, at training and at prediction",
                        stats.truncated_rows,
                        split_name,
                    )
                )

    leakage: list[Leak] = []
    if valid is not None:
        leakage = _leakage(train, valid)
        if leakage:
            rows = tuple(sorted(row for leak in leakage for row in leak.valid_rows))
            findings.append(
                Finding(
                    "leakage",
                    "warning",
                    f"{len(leakage)} validation "
                    f"{'text also appears' if len(leakage) == 1 else 'texts also appear'}"
                    f" in the training data "
                    f"(validation {describe_rows(rows)}): the validation score will look better "
                    "than it is; drop them from the validation set",
                    rows,
                    "valid",
                )
            )
        missing = [label for label in classes if valid_counts.get(label, 0) == 0]
        if missing:
            findings.append(
                Finding(
                    "missing_in_valid",
                    "info",
                    f"{_count(len(missing), 'label has', 'labels have')} no validation examples: "
                    f"{', '.join(repr(label) for label in missing)}; their scores cannot be "
                    "measured",
                    (),
                    "valid",
                )
            )
        unknown = sorted(set(valid.classes) - set(classes))
        if unknown:
            rows = rows_with(valid, set(unknown))
            findings.append(
                Finding(
                    "unknown_labels",
                    "error",
                    f"validation labels not in the training data: "
                    f"{', '.join(repr(label) for label in unknown)} ({describe_rows(rows)}): "
                    "the model cannot learn them; add training examples or drop those rows",
                    rows,
                    "valid",
                )
            )

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
        leakage=tuple(leakage),
        cleaning=cleaning,
        changes=tuple(changed["train"]),
        valid_changes=tuple(changed["valid"]),
        findings=tuple(findings),
        multilabel=multilabel_stats(train) if train.multi_label else None,
        seed=split_seed,
    )


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


def _label_findings(
    train: LabeledTexts, counts: dict[str, int], held_out: dict[str, int] | None = None
) -> list[Finding]:
    """Too few labels, too few examples, rare labels (with how the automatic split shares each
    rare label's rows out, when `held_out` gives its validation rows)."""
    findings = []
    if len(counts) < 2:
        found = f"only one label ({next(iter(counts))!r})" if counts else "no labels"
        findings.append(
            Finding(
                "too_few_labels",
                "error",
                f"the training data has {found}: a classifier needs at least 2 labels",
            )
        )
    # Multi-label: a row counts once however many labels it carries.
    n = sum(1 for s in train.label_sets if s) if train.label_sets else sum(counts.values())
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
    rare = {label: k for label, k in counts.items() if k < RARE_LABEL_EXAMPLES}
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
                f"{_count(len(rare), 'label has', 'labels have')}"
                f" fewer than {RARE_LABEL_EXAMPLES} examples: {listed}; "
                f"the model can hardly learn them and their scores mean little: {remedy}",
                rows,
            )
        )
    return findings


def _empty_findings(
    split_name: str, data: LabeledTexts, changes: Sequence[TextChange]
) -> list[Finding]:
    """Empty texts and labels (errors), and texts that only the cleaning emptied."""
    findings = []
    empty_text = tuple(row for row, text in zip(data.rows, data.texts, strict=True) if not text)
    empty_label = tuple(row for row, lab in zip(data.rows, data.labels, strict=True) if not lab)
    if data.multi_label:
        if empty_label:  # no label is an answer in multi-label data, not a gap
            findings.append(
                Finding("no_label", "info", no_label_message(empty_label), (), split_name)
            )
        empty_label = ()
    elif any(SEPARATOR in label for label in data.labels):
        joined = tuple(r for r, lab in zip(data.rows, data.labels, strict=True) if SEPARATOR in lab)
        findings.append(
            Finding(
                "separator_in_labels",
                "info",
                f"{_count(len(joined), 'label contains', 'labels contain')} {SEPARATOR!r} "
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
                f"{_count(len(empty_text), 'empty text', 'empty texts')}"
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
                f"{_count(len(empty_label), 'row', 'rows')}"
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
                f"cleaning leaves {_count(len(emptied), 'text', 'texts')}"
                f" empty ({describe_rows(emptied)}): "
                "they are reported as empty texts; drop them or turn off a cleaning rule",
                emptied,
                split_name,
            )
        )
    return findings


def _duplicates_and_conflicts(
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


def _duplicate_findings(
    split_name: str,
    groups: Sequence[DuplicateGroup],
    conflicts: Sequence[Conflict],
    valid_source: str,
) -> list[Finding]:
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
                f"{_count(len(extra), 'row repeats', 'rows repeat')}"
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
                f"{_count(len(conflicts), 'text has', 'texts have')} more than one label, e.g. "
                f"{_shorten(first.text)!r} is {labels} "
                f"({describe_rows(first.rows)}): the model cannot be right on both; fix the "
                "labels or drop these rows",
                rows,
                split_name,
            )
        )
    return findings


def _count(n: int, one: str, many: str) -> str:
    """'1 row repeats' / '3 rows repeat': the number with the right form of the words."""
    return f"{n} {one if n == 1 else many}"


def _shorten(text: str, limit: int = 60) -> str:
    """A long text cut for a message."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _leakage(train: LabeledTexts, valid: LabeledTexts) -> list[Leak]:
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

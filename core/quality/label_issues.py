"""Likely label errors (cleanlab on out-of-fold head probabilities) and near-duplicate texts:
the check, its record and its cache (the probabilities: core.quality.out_of_fold; the pairs:
core.quality.near_duplicates; the user's choices: core.quality.label_choices)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data.labeled import LabeledTexts, describe_rows
from core.errors import DataError
from core.io import atomic_write_text
from core.quality.near_duplicates import (
    NEAR_DUPLICATE_THRESHOLD,
    NearDuplicate,
    Progress,
    near_duplicates,
)
from core.quality.out_of_fold import (
    CHECK_HEAD_BALANCED,
    CHECK_HEAD_C,
    MAX_FOLDS,
    MIN_FOLD_EXAMPLES,
    choose_folds,
    embed,
    out_of_fold,
)
from core.records import Record

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

FORMAT_VERSION = 1
MIN_LABEL_EXAMPLES = 3
"""Labels with fewer examples are not checked: a head cannot learn them from the other folds."""


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class LabelIssue(Record):
    """A row whose given label the out-of-fold head finds unlikely, and the label it suggests."""

    row: int
    text: str
    given_label: str
    suggested_label: str
    given_confidence: float  # the head's probability for the given label (low: likely wrong)
    suggested_confidence: float  # its probability for the suggested label


@dataclass(frozen=True)
class LabelIssues(Record):
    """The label check of one training set: flagged rows (most likely wrong first) and
    near-duplicate pairs (conflicting labels first)."""

    base_model: str
    fingerprint: str
    rows_checked: int
    folds: int
    threshold: float
    issues: tuple[LabelIssue, ...]
    near_duplicates: tuple[NearDuplicate, ...]
    skipped_labels: tuple[str, ...] = ()  # labels too rare to check (see MIN_LABEL_EXAMPLES)
    more_pairs: int = 0  # near-duplicate pairs found beyond MAX_PAIRS and not listed
    seconds: float = 0.0
    from_cache: bool = field(default=False, compare=False)  # not stored

    @property
    def conflicting_pairs(self) -> tuple[NearDuplicate, ...]:
        return tuple(pair for pair in self.near_duplicates if pair.conflicting)

    def to_dict(self) -> dict[str, Any]:
        data = {"format_version": FORMAT_VERSION, **super().to_dict()}
        del data["from_cache"]
        return data

    def to_text(self, limit: int = 20) -> str:
        """A readable section for the CLI review."""
        lines = [
            f"Label check ({self.base_model} base model, {self.rows_checked} rows, "
            f"{self.folds}-fold out-of-fold head, {self.seconds:.1f} s)"
        ]
        if self.skipped_labels:
            lines.append(
                f"  not checked: labels with fewer than {MIN_LABEL_EXAMPLES} examples: "
                + ", ".join(repr(label) for label in self.skipped_labels)
            )
        if not self.issues:
            lines.append("  no likely label errors found")
        else:
            lines.append(
                f"  {len(self.issues)} rows may be mislabelled (most likely first; "
                "confidence = the head's probability):"
            )
            for issue in self.issues[:limit]:
                lines.append(
                    f"  row {issue.row}: {issue.given_label!r} ({issue.given_confidence:.2f})"
                    f" -> {issue.suggested_label!r} ({issue.suggested_confidence:.2f})"
                    f"  {_shorten(issue.text)!r}"
                )
            if len(self.issues) > limit:
                lines.append(f"  ... and {len(self.issues) - limit} more (--json lists all)")
        pairs = self.near_duplicates
        total = len(pairs) + self.more_pairs
        if not pairs:
            lines.append(f"  no near-duplicate texts (cosine >= {self.threshold:g})")
        else:
            lines.append(
                f"  {total} near-duplicate pairs (cosine >= {self.threshold:g}), "
                f"{len(self.conflicting_pairs)} with different labels:"
            )
            for pair in pairs[:limit]:
                mark = "different labels" if pair.conflicting else "same label"
                lines.append(
                    f"  {describe_rows(pair.rows)} ({mark}, {pair.similarity:.3f}): "
                    f"{_shorten(pair.texts[0])!r} {pair.labels[0]!r} / "
                    f"{_shorten(pair.texts[1])!r} {pair.labels[1]!r}"
                )
            if total > limit:
                lines.append(f"  ... and {total - limit} more")
        return "\n".join(lines)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# ----------------------------------------------------------------------------- the check


def find_label_issues(
    data: LabeledTexts,
    base_model: str = "small",
    *,
    cache: bool = True,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    seed: int = 0,
    model: SentenceTransformer | None = None,
    on_progress: Progress | None = None,
) -> LabelIssues:
    """Flag rows whose label is likely wrong, and near-duplicate pairs of texts.

    The texts are embedded once with the frozen base model (or `model`, already loaded); the
    logistic-regression head gives out-of-fold probabilities (stratified k-fold) and cleanlab
    ranks the likely label errors by self-confidence. Rows with an empty label are left out.
    With `cache`, the result is kept as JSON under cache_dir() by data fingerprint and base model.
    """
    path = cache_path(data, base_model, threshold=threshold, seed=seed)
    if cache and path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored.get("format_version") == FORMAT_VERSION:
                return replace(LabelIssues.from_dict(stored), from_cache=True)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache file is recomputed and rewritten
    started = time.perf_counter()
    result = _compute(data, base_model, threshold, seed, model, on_progress)
    result = replace(result, seconds=round(time.perf_counter() - started, 2))
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(result.to_dict(), ensure_ascii=False))
    return result


def cache_path(
    data: LabeledTexts,
    base_model: str = "small",
    *,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    seed: int = 0,
) -> Path:
    """Where find_label_issues keeps its result for this data and these settings."""
    from core.config import TrainConfig
    from core.model.catalogue import cache_dir

    config = TrainConfig(head_c=CHECK_HEAD_C, head_balanced=CHECK_HEAD_BALANCED)
    key = json.dumps(
        [
            FORMAT_VERSION,
            data.fingerprint(),
            list(data.rows),
            str(base_model),
            threshold,
            seed,
            config.head_c,
            config.head_balanced,
        ]
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return cache_dir() / "label-issues" / f"{digest}.json"


def _compute(
    data: LabeledTexts,
    base_model: str,
    threshold: float,
    seed: int,
    model: SentenceTransformer | None,
    on_progress: Progress | None,
) -> LabelIssues:
    report = on_progress or (lambda phase, done, total: None)
    counts = data.class_counts()
    skipped = tuple(label for label, n in counts.items() if n < MIN_LABEL_EXAMPLES)
    checked = tuple(label for label in counts if label not in skipped)
    if len(checked) < 2:
        raise DataError(
            f"the label check needs at least 2 labels with {MIN_LABEL_EXAMPLES} or more examples "
            f"each, found {len(checked)}: add examples"
        )
    if model is None:
        from core.model.catalogue import load_model

        model = load_model(base_model)
    embeddings = embed(model, data.texts, report)
    if data.multi_label:
        issues, rows_checked, folds = _multilabel_issues(data, checked, embeddings, seed, report)
    else:
        issues, rows_checked, folds = _issues(data, checked, counts, embeddings, seed, report)
    pairs, more = near_duplicates(data, embeddings, threshold, on_progress=report)
    return LabelIssues(
        base_model=str(base_model),
        fingerprint=data.fingerprint(),
        rows_checked=rows_checked,
        folds=folds,
        threshold=threshold,
        issues=tuple(issues),
        near_duplicates=tuple(pairs),
        skipped_labels=skipped,
        more_pairs=more,
    )


Flagged = tuple[list[LabelIssue], int, int]  # the issues, the rows checked, the folds


def _issues(
    data: LabeledTexts,
    checked: tuple[str, ...],
    counts: dict[str, int],
    embeddings: Any,
    seed: int,
    report: Progress,
) -> Flagged:
    """The rows of the checked labels whose label cleanlab finds unlikely, each with the most
    likely other label."""
    import numpy as np
    from cleanlab.filter import find_label_issues as cleanlab_issues

    index = {label: i for i, label in enumerate(checked)}
    keep = np.array([label in index for label in data.labels], dtype=bool)
    positions = np.flatnonzero(keep)
    y = np.array([index[data.labels[i]] for i in positions], dtype=np.int64)
    folds = choose_folds({label: counts[label] for label in checked})
    probs = out_of_fold(embeddings[positions], y, len(checked), folds, seed, report)
    # n_jobs=1: no worker processes (the app's server and a loaded 2-core machine both prefer it).
    ranked = cleanlab_issues(
        y, probs, return_indices_ranked_by="self_confidence", n_jobs=1, verbose=False
    )
    issues = []
    for i in ranked:
        i = int(i)
        given = int(y[i])
        others = probs[i].copy()
        others[given] = -1.0  # the suggestion is the most likely *other* label
        suggested = int(others.argmax())
        position = int(positions[i])
        issues.append(
            LabelIssue(
                row=data.rows[position],
                text=data.texts[position],
                given_label=checked[given],
                suggested_label=checked[suggested],
                given_confidence=round(float(probs[i, given]), 4),
                suggested_confidence=round(float(probs[i, suggested]), 4),
            )
        )
    return issues, len(positions), folds


def _multilabel_issues(
    data: LabeledTexts,
    checked: tuple[str, ...],
    embeddings: Any,
    seed: int,
    report: Progress,
) -> Flagged:
    """The check for multi-label data: out-of-fold one-vs-rest probabilities and cleanlab's
    multi-label filter, which flags a row when any label looks missing or wrong. The suggestion
    is every label the head gives 0.5 or more (else its most likely label)."""
    import numpy as np
    from cleanlab.multilabel_classification.filter import find_label_issues as cleanlab_issues
    from sklearn.model_selection import KFold

    from core.config import TrainConfig
    from core.data.multilabel import join_labels
    from core.model.heads import fit_multilabel_head

    index = {label: i for i, label in enumerate(checked)}
    assert data.label_sets is not None
    given = [[index[x] for x in labels if x in index] for labels in data.label_sets]
    y = np.zeros((len(given), len(checked)), dtype=np.int64)
    for i, ids in enumerate(given):
        y[i, ids] = 1
    folds = max(2, min(MAX_FOLDS, len(data) // max(1, MIN_FOLD_EXAMPLES * len(checked))))
    # The recipe's own C: at C=1 the unweighted one-vs-rest heads stay near each label's rate
    # on small files and cleanlab finds nothing (a planted wrong label in 48 rows went unseen).
    config = TrainConfig(seed=seed)
    probs = np.zeros(y.shape, dtype=np.float64)
    report("folds", 0, folds)
    for done, (train_idx, test_idx) in enumerate(
        KFold(n_splits=folds, shuffle=True, random_state=seed).split(embeddings), start=1
    ):
        head = fit_multilabel_head(embeddings[train_idx], y[train_idx], config)
        probs[test_idx] = head.predict_proba(embeddings[test_idx])
        report("folds", done, folds)
    ranked = cleanlab_issues(
        given, probs, return_indices_ranked_by="self_confidence", n_jobs=1, verbose=False
    )
    issues = []
    for i in ranked:
        i = int(i)
        likely = [k for k in np.argsort(-probs[i], kind="stable") if probs[i, k] >= 0.5]
        likely = likely or [int(probs[i].argmax())]
        mine = given[i]
        issues.append(
            LabelIssue(
                row=data.rows[i],
                text=data.texts[i],
                given_label=join_labels(checked[k] for k in mine),
                suggested_label=join_labels(checked[k] for k in sorted(likely)),
                # The given labels' weakest support (no label: the doubt about the likeliest).
                given_confidence=round(
                    float(probs[i, mine].min()) if mine else 1.0 - float(probs[i].max()), 4
                ),
                suggested_confidence=round(float(probs[i, likely].min()), 4),
            )
        )
    return issues, len(data), folds

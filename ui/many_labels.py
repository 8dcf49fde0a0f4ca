"""Views that stay readable with 20-150 labels: the most-confused pairs, the labels a small
confusion matrix shows, per-label rows worst first, a text's top labels and the map's colours.
Plain functions of an Evaluation or a result (no Streamlit), so they are tested alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd

from core.train.metrics import FEW_EXAMPLES, Evaluation

# Above this many labels a full confusion matrix has cells too small to read (at 1,400 px, two
# matrices side by side leave about 20 px a column at 20 labels), so the pages show the
# most-confused pairs and a matrix of the labels with most errors instead.
MANY_LABELS = 20
# Labels in the small matrix: 12 columns keep their slanted names and counts apart in half a page.
MATRIX_LABELS = 12
# Confidences drawn per classified text; the rest are one click away (an expander).
TOP_SHOWN = 5
# Labels coloured on the map: about as many as a palette keeps apart (Tableau 10).
MAP_COLOURS = 10
OTHER = "(other labels)"
NO_LABEL = "(no label)"
PAIR_COLUMNS = ["true label", "predicted as", "texts", "share of the label's texts"]
PER_LABEL_COLUMNS = ["label", "precision", "recall", "F1", "baseline F1", "gain", "support"]
PER_LABEL_COLUMNS += ["note"]


def confused_pairs(evaluation: Evaluation, baseline: Evaluation | None = None) -> pd.DataFrame:
    """Every (true label, predicted as) pair that happened, most texts first: how many texts,
    their share of the true label's texts, and (given a baseline on the same labels) how many
    the base model sent the same way."""
    labels = list(evaluation.labels)
    matrix = evaluation.confusion_matrix
    before = _cells(baseline) if baseline is not None else None
    rows = []
    for i, truth in enumerate(labels):
        row = matrix[i] if i < len(matrix) else ()
        total = sum(row)
        for j, count in enumerate(row):
            if j == i or not count:
                continue
            found = {
                "true label": truth,
                "predicted as": labels[j],
                "texts": int(count),
                "share of the label's texts": count / total,
            }
            if before is not None:
                found["base model"] = before.get((truth, labels[j]), 0)
            rows.append(found)
    columns = PAIR_COLUMNS + (["base model"] if before is not None else [])
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values(
        ["texts", "share of the label's texts", "true label", "predicted as"],
        ascending=[False, False, True, True],
        kind="stable",
    )
    return frame.reset_index(drop=True)


def _cells(evaluation: Evaluation) -> dict[tuple[str, str], int]:
    labels = evaluation.labels
    return {
        (labels[i], labels[j]): int(count)
        for i, row in enumerate(evaluation.confusion_matrix)
        for j, count in enumerate(row)
    }


def errors_per_label(evaluation: Evaluation) -> dict[str, int]:
    """Texts each label was part of an error in: wrongly predicted as it, or it wrongly missed."""
    labels = evaluation.labels
    found = dict.fromkeys(labels, 0)
    for i, row in enumerate(evaluation.confusion_matrix):
        for j, count in enumerate(row):
            if i != j and count:
                found[labels[i]] += int(count)
                found[labels[j]] += int(count)
    return found


def matrix_labels(evaluation: Evaluation, k: int = MATRIX_LABELS) -> list[str]:
    """The `k` labels a small confusion matrix shows: taken pair by pair from the most-confused
    pairs (both labels of a pair, so its cell is in the matrix), topped up with the labels with
    most errors; in the run's label order. Fewer when fewer labels had errors."""
    chosen: list[str] = []
    for truth, guess in zip(
        *(confused_pairs(evaluation)[c] for c in ("true label", "predicted as")), strict=True
    ):
        for label in (truth, guess):
            if label not in chosen and len(chosen) < k:
                chosen.append(label)
        if len(chosen) >= k:
            break
    order = {label: i for i, label in enumerate(evaluation.labels)}
    return sorted(chosen, key=order.__getitem__)


def per_label_table(final: Evaluation, baseline: Evaluation | None = None) -> pd.DataFrame:
    """One row per label, worst F1 first (ties: more texts first, then by name), with its
    support, the base model's F1 and the gain."""
    base = {c.label: c for c in baseline.per_class} if baseline else {}
    rows = []
    for c in final.per_class:
        b = base.get(c.label)
        rows.append(
            {
                "label": c.label,
                "precision": c.precision,
                "recall": c.recall,
                "F1": c.f1,
                "baseline F1": b.f1 if b else None,
                "gain": c.f1 - b.f1 if b else None,
                "support": c.support,
                "note": f"fewer than {FEW_EXAMPLES} examples" if c.support < FEW_EXAMPLES else "",
            }
        )
    frame = pd.DataFrame(rows, columns=PER_LABEL_COLUMNS)
    frame = frame.sort_values(
        ["F1", "support", "label"], ascending=[True, False, True], kind="stable"
    )
    return frame.reset_index(drop=True)


def top_labels(confidences: Mapping[str, float], k: int = TOP_SHOWN) -> dict[str, float]:
    """The `k` most confident labels, most confident first (ties in the given order)."""
    ranked = sorted(confidences.items(), key=lambda item: -item[1])
    return dict(ranked[:k])


def frequent_labels(
    labels: Sequence[str | None], classes: Sequence[str], k: int = MAP_COLOURS
) -> list[str]:
    """The `k` labels with most points, in label order on ties (`classes` first, then labels
    the run never saw in the order they come)."""
    counts = Counter(label for label in labels if label)
    order = {label: i for i, label in enumerate(dict.fromkeys([*classes, *counts]))}
    ranked = sorted(counts, key=lambda label: (-counts[label], order[label]))
    return ranked[:k]


def colour_groups(
    labels: Sequence[str | None],
    classes: Sequence[str],
    highlight: str | None = None,
    k: int = MAP_COLOURS,
) -> tuple[list[str], list[str]]:
    """Each point's colour group and the legend's order: its label when that label is coloured
    (the one highlighted, else the `k` most frequent), OTHER when not, NO_LABEL when it has
    none. With at most `k` labels every label keeps its colour. No legend when no point has a
    label."""
    present = {label for label in labels if label}
    if not present:
        return [NO_LABEL] * len(labels), []
    if highlight is not None:
        coloured = [highlight]
    elif len(present) <= k:
        coloured = [c for c in dict.fromkeys([*classes, *labels]) if c in present]
    else:
        coloured = frequent_labels(labels, classes, k)
    keep = set(coloured)
    groups = [(label if label in keep else OTHER) if label else NO_LABEL for label in labels]
    legend = coloured + [g for g in (OTHER, NO_LABEL) if g in groups]
    return groups, legend

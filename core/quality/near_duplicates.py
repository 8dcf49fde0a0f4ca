"""Near-duplicate texts: pairs of different texts whose embeddings are almost the same, found in
blocks so memory stays bounded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.data.labeled import LabeledTexts
from core.records import Record

if TYPE_CHECKING:
    import numpy as np

NEAR_DUPLICATE_THRESHOLD = 0.95
"""Cosine at or above which two different texts are near-duplicates. On the shared data sets
(bench/label_issues.py) pairs at 0.95+ are rewordings of one message (case, punctuation, one
word); below 0.9 they are merely on the same topic."""
MAX_PAIRS = 5000
"""Most near-duplicate pairs kept of each kind (conflicting, same label): bounds memory."""
BLOCK_ELEMENTS = 16 * 2**20
"""Similarity cells computed at once (64 MB of float32): memory stays bounded at 100k rows."""

Progress = Callable[[str, int, int], None]
"""on_progress(phase, done, total): phase is "embedding", "folds" or "near-duplicates"."""


@dataclass(frozen=True)
class NearDuplicate(Record):
    """Two different texts with almost the same embedding."""

    rows: tuple[int, int]
    texts: tuple[str, str]
    labels: tuple[str, str]
    similarity: float

    @property
    def conflicting(self) -> bool:
        return self.labels[0] != self.labels[1]

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "conflicting": self.conflicting}


def near_duplicates(
    data: LabeledTexts,
    embeddings: np.ndarray,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    *,
    max_pairs: int = MAX_PAIRS,
    on_progress: Progress | None = None,
) -> tuple[list[NearDuplicate], int]:
    """Pairs of different texts with cosine >= threshold (unit-length embeddings), conflicting
    labels first, then most similar first; and how many more pairs there were beyond max_pairs
    of each kind (the first found in file order are kept). Each distinct text is compared once;
    the similarity matrix is computed in blocks, so memory stays bounded."""
    import numpy as np

    report = on_progress or (lambda phase, done, total: None)
    # Each distinct text once (its first row): exact duplicates are the review's to report, and
    # thousands of copies of one text must not turn into millions of pairs here.
    first: dict[str, int] = {}
    for position, text in enumerate(data.texts):
        first.setdefault(text, position)
    unique = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    vectors = embeddings[unique]
    label_ids = {label: i for i, label in enumerate(dict.fromkeys(data.labels))}
    labels = np.array([label_ids[data.labels[p]] for p in unique.tolist()], dtype=np.int64)
    n = len(unique)
    block = max(1, min(n, BLOCK_ELEMENTS // max(n, 1)))
    found: dict[bool, list[tuple[float, int, int]]] = {True: [], False: []}
    more = 0
    total_blocks = (n + block - 1) // block
    report("near-duplicates", 0, total_blocks)
    for done, start in enumerate(range(0, n, block), start=1):
        stop = min(start + block, n)
        # Only pairs (a, b) with b > a: the upper triangle of this block of rows.
        sims = vectors[start:stop] @ vectors[start:].T
        a, c = np.nonzero(sims >= threshold)
        upper = c > a
        a, c = a[upper], c[upper]
        values, first_ids, second_ids = sims[a, c], start + a, start + c
        conflicting = labels[first_ids] != labels[second_ids]
        for kind in (True, False):
            picked = np.flatnonzero(conflicting == kind)
            room = max(0, max_pairs - len(found[kind]))
            for k in picked[:room].tolist():
                found[kind].append((float(values[k]), int(first_ids[k]), int(second_ids[k])))
            more += max(0, len(picked) - room)
        report("near-duplicates", done, total_blocks)
    pairs = []
    for kind in (True, False):
        for similarity, i, j in sorted(found[kind], key=lambda t: (-t[0], t[1], t[2])):
            i, j = int(unique[i]), int(unique[j])
            pairs.append(
                NearDuplicate(
                    rows=(data.rows[i], data.rows[j]),
                    texts=(data.texts[i], data.texts[j]),
                    labels=(data.labels[i], data.labels[j]),
                    similarity=round(min(similarity, 1.0), 4),
                )
            )
    return pairs, more

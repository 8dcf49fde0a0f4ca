"""How a labelling session is going: an estimate of the head's accuracy from the labelled texts
that were drawn at random (cross-validated, with its Wilson interval), the point it adds to the
session's curve after each batch, and how the head's guesses spread over the labels of the
pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.config import TrainConfig
from core.records import Record

FOLDS = 5
"""Folds of the cross-validation: each measured text is guessed by a head that never saw it."""
MIN_MEASURED = 6
"""Fewer measured texts than this give no estimate (3 batches of the app's 2 random texts)."""
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate(Record):
    """The head's accuracy on the measured texts (the labelled ones drawn at random), each
    guessed by a head fitted on everything else labelled (and the label names): `right` of
    `n`, and the Wilson interval of that share."""

    labelled: int  # labelled texts when it was measured (a point of the curve)
    right: int
    n: int
    low: float
    high: float

    @property
    def accuracy(self) -> float:
        return self.right / self.n if self.n else 0.0


def estimate(
    pool: np.ndarray,
    answers: Mapping[int, int],
    names: np.ndarray,
    name_labels: np.ndarray,
    num_labels: int,
    config: TrainConfig | None = None,
    *,
    audited: Sequence[int] | None = None,
    folds: int = FOLDS,
    seed: int = 0,
) -> Estimate | None:
    """Cross-validated accuracy of the head (`answers`: pool position -> label position) on
    the `audited` texts: those asked at random, so they stand for the pool (None: every labelled
    text, which the strategy chose as the hardest: a low, biased figure). Each fold's head
    learns from the label names, the other labelled texts and the other folds. None below
    MIN_MEASURED measured texts or while fewer than 2 labels have an example."""
    from scipy.stats import binomtest
    from sklearn.model_selection import KFold

    from core.label.learner import fit

    config = config or TrainConfig()
    measured = np.array(
        [i for i in (answers if audited is None else audited) if i in answers], dtype=np.int64
    )
    others = np.array([i for i in answers if i not in set(measured.tolist())], dtype=np.int64)
    if len(measured) < MIN_MEASURED:
        return None
    truth = np.array([answers[int(i)] for i in measured], dtype=np.int64)
    rest = np.array([answers[int(i)] for i in others], dtype=np.int64)
    right = 0
    splitter = KFold(n_splits=min(folds, len(measured)), shuffle=True, random_state=seed)
    for train, test in splitter.split(measured):
        rows = np.vstack([names, pool[others], pool[measured[train]]]).astype(np.float32)
        targets = np.concatenate([name_labels, rest, truth[train]]).astype(np.int64)
        if len(np.unique(targets)) < 2:
            continue  # a fold that teaches one label guesses nothing: its texts count wrong
        _, probabilities = fit(rows, targets, pool[measured[test]], num_labels, config)
        right += int((probabilities.argmax(axis=1) == truth[test]).sum())
    interval = binomtest(right, len(measured)).proportion_ci(CONFIDENCE, method="wilson")
    return Estimate(len(answers), right, len(measured), float(interval.low), float(interval.high))


@dataclass(frozen=True)
class Spread:
    """How many pool texts the head guesses as each label (label order), and their mean
    confidence (None for a label no text is guessed as)."""

    labels: tuple[str, ...]
    counts: tuple[int, ...]
    confidence: tuple[float | None, ...]

    def unguessed(self) -> tuple[str, ...]:
        """Labels no pool text is guessed as: a name that draws nothing, or a rare label."""
        return tuple(label for label, n in zip(self.labels, self.counts, strict=True) if not n)


def spread(probabilities: np.ndarray, labels: Sequence[str]) -> Spread:
    """The spread of the head's guesses for the pool (`probabilities`: one row per text)."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    counts = np.bincount(predicted, minlength=len(labels))
    means = tuple(
        float(confidence[predicted == i].mean()) if counts[i] else None for i in range(len(labels))
    )
    return Spread(tuple(labels), tuple(int(n) for n in counts), means)

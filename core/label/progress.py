"""How a labelling session is going: an estimate of the head's accuracy from the labelled texts
(cross-validated, with its Wilson interval), the point it adds to the session's curve after each
batch, and how the head's guesses spread over the labels of the pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.config import TrainConfig
from core.records import Record

FOLDS = 5
"""Folds of the cross-validation: each labelled text is guessed by a head that never saw it."""
MIN_LABELLED = 10
"""Fewer labelled texts than this give no estimate (an interval wider than half the scale)."""
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate(Record):
    """The head's accuracy on the labelled texts, each guessed by a head fitted on the other
    folds (and the label names): `right` of `n`, and the Wilson interval of that share. The
    strategy asks the texts the head is least sure of, so this is lower than its accuracy on
    the pool at large (a floor, not a forecast)."""

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
    folds: int = FOLDS,
    seed: int = 0,
) -> Estimate | None:
    """Cross-validated accuracy of the head on the labelled texts (`answers`: pool position ->
    label position), the label names always among the training rows. None below MIN_LABELLED
    texts or while fewer than 2 labels have an example."""
    from scipy.stats import binomtest
    from sklearn.model_selection import KFold

    from core.label.learner import fit

    config = config or TrainConfig()
    asked = np.fromiter(answers, dtype=np.int64, count=len(answers))
    truth = np.fromiter(answers.values(), dtype=np.int64, count=len(answers))
    if len(asked) < MIN_LABELLED or len(np.unique(np.concatenate([truth, name_labels]))) < 2:
        return None
    right = 0
    splitter = KFold(n_splits=min(folds, len(asked)), shuffle=True, random_state=seed)
    for train, test in splitter.split(asked):
        rows = np.vstack([names, pool[asked[train]]]).astype(np.float32)
        targets = np.concatenate([name_labels, truth[train]]).astype(np.int64)
        if len(np.unique(targets)) < 2:
            continue  # a fold that teaches one label guesses nothing: its texts count wrong
        _, probabilities = fit(rows, targets, pool[asked[test]], num_labels, config)
        right += int((probabilities.argmax(axis=1) == truth[test]).sum())
    interval = binomtest(right, len(asked)).proportion_ci(CONFIDENCE, method="wilson")
    return Estimate(len(asked), right, len(asked), float(interval.low), float(interval.high))


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

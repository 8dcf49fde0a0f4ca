"""The head a labelling session learns: the logistic-regression head (core.model.heads.fit_head,
with the run's TrainConfig) on the cached embeddings of the texts labelled so far and of the
label names (core.train.label_names), refitted after each batch. With no label given, the names
alone classify the pool. Self-training: the pool texts the head is surest of, for each label,
join as examples of it and the head is fitted again — the pool's own texts teach it what a label
looks like beyond its name (measured in docs/BENCHMARKS.md, "Labelling loop")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.config import TrainConfig
from core.model.heads import Head, fit_head
from core.train.label_names import label_name_texts

PSEUDO_PER_LABEL = 20
"""Pool texts taken as examples of each label, the surest ones (self-training). Test macro-F1 of
the head from the names alone (bench/active_learning.py, 5,000-text pools): clinc150 0.643 ->
0.740, hwu64 0.464 -> 0.574, sms-spam 0.543 -> 0.704, emotion 0.335 -> 0.327; with 400 labels
chosen at random, clinc150 0.810 -> 0.857 and hwu64 0.761 -> 0.779, the binary sets unchanged
(docs/BENCHMARKS.md, "Labelling loop"). It doubles the refit: 0.33 CPU s a batch for clinc150."""


@dataclass(frozen=True)
class LabelHead:
    """The fitted head with a column for every label of the session (0 for a label it has no
    example of yet)."""

    head: Head
    classes: np.ndarray  # the label position of each of the head's columns
    num_labels: int

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        probabilities = np.zeros((len(embeddings), self.num_labels))
        probabilities[:, self.classes] = self.head.predict_proba(embeddings)
        return probabilities


@dataclass(frozen=True)
class Guesses:
    """The head's probabilities for every text of the pool (columns in label order), the head,
    and what it learnt from: labelled texts, label names, pool texts taken as examples."""

    probabilities: np.ndarray
    head: LabelHead
    labelled: int
    names: int
    pseudo: int

    @property
    def predictions(self) -> np.ndarray:
        """The likeliest label of each text (its position in the labels)."""
        return self.probabilities.argmax(axis=1)

    @property
    def confidences(self) -> np.ndarray:
        """The probability of each text's likeliest label."""
        return self.probabilities.max(axis=1)


def name_rows(labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The label names that say something, as texts, and the position of each one's label."""
    named = [(i, text) for i, text in enumerate(label_name_texts(labels)) if text is not None]
    return [text for _, text in named], np.array([i for i, _ in named], dtype=np.int64)


def guess(
    pool: np.ndarray,
    answers: Mapping[int, int],
    names: np.ndarray,
    name_labels: np.ndarray,
    num_labels: int,
    config: TrainConfig | None = None,
    *,
    pseudo_per_label: int = PSEUDO_PER_LABEL,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> Guesses | None:
    """The head's guesses for the pool, fitted on the labelled texts (`answers`: pool position
    -> label position), the label-name rows (`names`, `name_labels`) and `extra` labelled rows
    from outside the pool; then again with the `pseudo_per_label` surest pool texts of each label
    added. None while fewer than 2 labels have an example (nothing to tell apart yet)."""
    config = config or TrainConfig()
    asked = np.fromiter(answers, dtype=np.int64, count=len(answers))
    x = [names, pool[asked]]
    y = [name_labels, np.fromiter(answers.values(), dtype=np.int64, count=len(answers))]
    if extra is not None:
        x.append(extra[0])
        y.append(extra[1])
    rows, targets = np.vstack(x).astype(np.float32), np.concatenate(y).astype(np.int64)
    if len(np.unique(targets)) < 2:
        return None
    head, probabilities = fit(rows, targets, pool, num_labels, config)
    pseudo = 0
    if pseudo_per_label > 0:
        chosen = surest(probabilities, asked, pseudo_per_label)
        if len(chosen):
            pseudo = len(chosen)
            rows = np.vstack([rows, pool[chosen]])
            targets = np.concatenate([targets, probabilities[chosen].argmax(axis=1)])
            head, probabilities = fit(rows, targets, pool, num_labels, config)
    labelled = len(answers) + (0 if extra is None else len(extra[1]))
    return Guesses(probabilities, head, labelled, len(name_labels), pseudo)


def surest(probabilities: np.ndarray, exclude: np.ndarray, per_label: int) -> np.ndarray:
    """For each label, the `per_label` texts most confidently guessed as it (not `exclude`)."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    confidence[exclude] = -1.0
    chosen = []
    for label in np.unique(predicted):
        members = np.flatnonzero((predicted == label) & (confidence >= 0))
        chosen.append(members[np.argsort(-confidence[members], kind="stable")[:per_label]])
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def fit(
    rows: np.ndarray, targets: np.ndarray, pool: np.ndarray, num_labels: int, config: TrainConfig
) -> tuple[LabelHead, np.ndarray]:
    """Fit the head on `rows` (label positions `targets`); it and its probabilities for `pool`."""
    import warnings

    from threadpoolctl import threadpool_limits

    # One thread: these fits are small, and threads waiting on a busy machine's cores made them
    # 10x slower (3.6 s against 0.18 s for clinc150's names on a loaded 2-core machine).
    with threadpool_limits(1), warnings.catch_warnings():
        # One row per label (the names alone) is a classification, not a regression.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater")
        fitted = fit_head(rows, targets, config)
        head = LabelHead(fitted, np.asarray(fitted.classes_, dtype=np.int64), num_labels)
        return head, head.predict_proba(pool)

"""One turn of the labelling loop, as every door runs it: the answers of a labelled file joined to
the session, the pool embedded once (cached), the head refitted on the answers and the label
names, and the next batch with the head's guess and confidence for each text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import TrainConfig
from core.data.labeled import describe_rows
from core.errors import DataError
from core.label.embeddings import Encode, Progress, cached_embeddings
from core.label.learner import Guesses, guess, name_rows
from core.label.pool import ANSWERS
from core.label.progress import estimate
from core.label.session import Session
from core.label.strategy import AUDIT_PER_BATCH, DEFAULT_STRATEGY, audit, choose

EMBEDDINGS_DIR = "embeddings"  # beside the sessions in the workspace's .labelling/


@dataclass(frozen=True)
class Suggestion:
    """A text to label next: its position in the pool, the head's guess and its confidence
    (empty and None while there is no model: fewer than 2 labels with an example)."""

    index: int
    text: str
    guess: str
    confidence: float | None


@dataclass(frozen=True)
class Embedded:
    """A session's vectors: the pool's, the label names' (those that say something) and those
    of labelled rows from outside the pool."""

    pool: np.ndarray
    names: np.ndarray
    name_labels: np.ndarray
    extra: np.ndarray


@dataclass(frozen=True)
class Turn:
    """The session asking its next batch, the suggestions, the head's guesses for the pool, and
    the labels it cannot guess yet (no labelled text, and a name that says nothing)."""

    session: Session
    suggestions: tuple[Suggestion, ...]
    guesses: Guesses | None
    unknown_labels: tuple[str, ...]


@dataclass(frozen=True)
class Extra:
    """Labelled rows from outside the pool: they teach the head, they are never asked."""

    texts: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


def join_answers(
    session: Session, texts: Sequence[str], labels: Sequence[str], rows: Sequence[int], name: str
) -> tuple[Session, Extra]:
    """The session with the answers of a labelled file (a label, skip or none of these; rows
    with an empty label are not answered yet), and the labelled rows whose text is not in the
    pool. A text given two different answers is a DataError naming both rows."""
    where = {text: i for i, text in enumerate(session.pool.texts)}
    seen: dict[str, tuple[str, int]] = {}
    for text, label, row in zip(texts, labels, rows, strict=True):
        text, label = text.strip(), label.strip()
        if not text or not label:
            continue
        if text in seen and seen[text][0] != label:
            first_label, first_row = seen[text]
            raise DataError(
                f"{name}: {describe_rows([first_row, row])} give the text {text[:60]!r} two "
                f"answers ({first_label!r} and {label!r}): keep one"
            )
        seen[text] = (label, row)
    answers = {where[t]: label for t, (label, _) in seen.items() if t in where}
    outside = [(t, label) for t, (label, _) in seen.items() if t not in where]
    extra_labels = [label for _, label in outside if label not in ANSWERS]
    missing = sorted({label for label in [*answers.values(), *extra_labels]} - set(ANSWERS))
    missing = [label for label in missing if label not in session.labels]
    if missing:
        session = session.with_labels([*session.labels, *missing])
    extra = Extra(
        tuple(t for t, label in outside if label not in ANSWERS),
        tuple(extra_labels),
    )
    return session.answer(answers), extra


def embed(
    session: Session,
    encode: Encode,
    folder: Path | None,
    extra: Extra | None = None,
    progress: Progress | None = None,
) -> Embedded:
    """The session's vectors, each computed once per (texts, model) and kept in `folder`."""
    extra = extra or Extra()
    key = session.model_key
    pool = cached_embeddings(
        encode, session.pool.texts, model_key=key, folder=folder, progress=progress
    )
    name_texts, name_labels = name_rows(session.labels)
    names = _embed(encode, name_texts, key, folder, pool.shape[1])
    extra_vectors = _embed(encode, extra.texts, key, folder, pool.shape[1])
    return Embedded(pool, names, name_labels, extra_vectors)


def _embed(
    encode: Encode, texts: Sequence[str], key: str, folder: Path | None, dim: int
) -> np.ndarray:
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    return cached_embeddings(encode, list(texts), model_key=key, folder=folder)


def next_turn(
    session: Session,
    vectors: Embedded,
    n: int,
    *,
    extra: Extra | None = None,
    config: TrainConfig | None = None,
    strategy: str = DEFAULT_STRATEGY,
    audit_texts: int = 0,
) -> Turn:
    """Refit the head on the session's answers (and `extra` rows), and choose the next `n`
    texts among those not answered yet, `audit_texts` of them at random (they measure the head:
    core.label.strategy.AUDIT_PER_BATCH); the session comes back asking them."""
    extra = extra or Extra()
    if n < 1:
        raise DataError(f"the batch must hold at least 1 text, not {n}")
    position = {label: i for i, label in enumerate(session.labels)}
    answers = {i: position[label] for i, label in session.labelled.items()}
    extra_rows = None
    if extra.texts:
        extra_rows = (vectors.extra, np.array([position[label] for label in extra.labels]))
    guesses = guess(
        vectors.pool,
        answers,
        vectors.names,
        vectors.name_labels,
        len(session.labels),
        config,
        extra=extra_rows,
    )
    open_texts = [i for i in range(len(session.pool)) if i not in session.answers]
    if not open_texts:
        raise DataError(
            f"every text of the pool has an answer ({len(session.pool)}): nothing left to ask; "
            "export the labelled rows, or add texts to the pool"
        )
    drawn = audit_texts if guesses is not None and n > 2 * audit_texts else 0
    picked = choose(
        vectors.pool,
        None if guesses is None else guesses.probabilities,
        open_texts,
        n - drawn,
        strategy=strategy,
        seed=len(session.answers),
    )
    random_picks = audit(open_texts, picked, drawn, seed=len(session.answers) + 1)
    for k, index in enumerate(random_picks):  # among the others, so nothing marks them out
        picked.insert((k + 1) * len(picked) // (len(random_picks) + 1), index)
    suggestions = tuple(
        Suggestion(
            i,
            session.pool.texts[i],
            "" if guesses is None else session.labels[int(guesses.predictions[i])],
            None if guesses is None else float(guesses.confidences[i]),
        )
        for i in picked
    )
    known = set(vectors.name_labels.tolist()) | set(answers.values())
    if extra_rows is not None:
        known |= set(extra_rows[1].tolist())
    unknown = tuple(label for i, label in enumerate(session.labels) if i not in known)
    return Turn(session.asking(picked, audit=random_picks), suggestions, guesses, unknown)


def advance(
    session: Session,
    vectors: Embedded,
    n: int,
    *,
    extra: Extra | None = None,
    config: TrainConfig | None = None,
    strategy: str = DEFAULT_STRATEGY,
    audit_texts: int = AUDIT_PER_BATCH,
) -> Turn:
    """After a batch: the next turn (next_turn, `audit_texts` of it drawn at random), and the
    session's curve with the head's accuracy estimated on the texts drawn at random so far
    (core.label.progress.estimate)."""
    turn = next_turn(
        session, vectors, n, extra=extra, config=config, strategy=strategy, audit_texts=audit_texts
    )
    position = {label: i for i, label in enumerate(session.labels)}
    answers = {i: position[label] for i, label in session.labelled.items()}
    point = estimate(
        vectors.pool,
        answers,
        vectors.names,
        vectors.name_labels,
        len(session.labels),
        config,
        audited=[i for i in session.audit if i in answers],
    )
    if point is None:
        return turn
    return Turn(
        turn.session.with_estimate(point), turn.suggestions, turn.guesses, turn.unknown_labels
    )

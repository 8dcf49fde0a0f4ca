"""A labelling session: the pool, the labels, the model that embeds it, the answers given so far
(text -> label, skip or none of these) and the batch being asked; kept in the workspace as one
JSON file written whole, so it survives a refresh and a restart and can be resumed; its labelled
rows become LabeledTexts (a data set like any other)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from core.data.labeled import LabeledTexts
from core.errors import DataError, StorageError
from core.io import atomic_write_text
from core.label.embeddings import texts_fingerprint
from core.label.pool import ANSWERS, Pool, check_answers, merge_labels, parse_labels
from core.label.progress import Estimate
from core.records import Record

SESSIONS_DIR = ".labelling"
"""The workspace's folder of sessions (a dot folder: never listed as a run); embeddings are kept
in its `embeddings/`."""
SESSION_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Session(Record):
    """One labelling session. `answers` keeps the order answers were given (the first ones
    first); `batch` holds the texts of the batch being asked, answered or not, so a refresh or a
    restart shows the same batch with the answers given (`open_batch`: those still to answer)."""

    pool: Pool
    labels: tuple[str, ...]
    model: str  # the base model or run that embeds the pool, as the user named it
    model_key: str  # its weights: the base model's key, or a run's id and finish time
    answers: dict[int, str] = field(default_factory=dict)
    batch: tuple[int, ...] = ()
    created_at: str = ""
    updated_at: str = ""
    history: tuple[Estimate, ...] = ()  # the accuracy estimate after each batch: the curve
    audit: tuple[int, ...] = ()  # texts asked at random (they measure the head), all batches

    @property
    def id(self) -> str:
        """16 hex digits of the pool's texts and the model's weights: the same pool labelled
        with the same model resumes the same session."""
        key = f"{self.model_key}\n{texts_fingerprint(self.pool.texts)}"
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]

    @property
    def labelled(self) -> dict[int, str]:
        """The answers that are labels (not skip / none of these)."""
        return {i: answer for i, answer in self.answers.items() if answer not in ANSWERS}

    def counts(self) -> dict[str, int]:
        """Texts labelled with each label, in label order."""
        counts = Counter(self.labelled.values())
        return {label: counts[label] for label in self.labels}

    def answer(self, answers: Mapping[int, str]) -> Session:
        """This session with more answers (a text answered again takes the new answer)."""
        check_answers(answers, self.labels, len(self.pool))
        merged = {**self.answers, **{int(i): a for i, a in answers.items()}}
        return replace(self, answers=merged, updated_at=_now())

    @property
    def open_batch(self) -> tuple[int, ...]:
        """The texts of the batch not answered yet."""
        return tuple(i for i in self.batch if i not in self.answers)

    def asking(self, batch: Sequence[int], audit: Sequence[int] = ()) -> Session:
        """This session asking `batch` next, `audit` of them drawn at random."""
        drawn = (*self.audit, *(int(i) for i in audit if int(i) not in self.audit))
        return replace(self, batch=tuple(int(i) for i in batch), audit=drawn, updated_at=_now())

    def with_estimate(self, point: Estimate) -> Session:
        """This session with `point` on its curve (replacing one at the same labelled count)."""
        kept = tuple(p for p in self.history if p.labelled != point.labelled)
        return replace(self, history=(*kept, point))

    def with_labels(self, typed: str | Sequence[str]) -> Session:
        """This session with its labels replaced by `typed`: a label may be added, or dropped
        while no text carries it; one that texts carry is kept, with a DataError saying so."""
        labels = parse_labels(typed)
        counts = self.counts()
        kept = [label for label in self.labels if label not in labels and counts[label]]
        if kept:
            label = kept[0]
            raise DataError(
                f"label {label!r} is the answer for {counts[label]} "
                f"{'text' if counts[label] == 1 else 'texts'}: keep it, or answer "
                f"{'that text' if counts[label] == 1 else 'those texts'} again first"
            )
        return replace(self, labels=merge_labels(labels, []), updated_at=_now())

    def labelled_texts(self, *, every_label: bool = False) -> LabeledTexts:
        """The labelled texts as a data set, in the order answered, with the pool file's row
        numbers. `every_label`: a DataError for a label no text carries (what a finetune
        needs: it can learn nothing of such a label)."""
        chosen = self.labelled
        if every_label:
            empty = [label for label, n in self.counts().items() if n == 0]
            if empty:
                shown = ", ".join(repr(label) for label in empty)
                raise DataError(
                    f"{'label' if len(empty) == 1 else 'labels'} {shown} "
                    f"{'has' if len(empty) == 1 else 'have'} no labelled texts yet: label at least "
                    "one text with each, or remove the label, before training on these rows"
                )
        return LabeledTexts(
            texts=tuple(self.pool.texts[i] for i in chosen),
            labels=tuple(chosen.values()),
            rows=tuple(self.pool.rows[i] for i in chosen),
            name=f"labelled from {self.pool.name or 'the pool'}",
        )


def new_session(
    pool: Pool, labels: str | Sequence[str] = (), *, model: str = "small", model_key: str = ""
) -> Session:
    """A session on `pool` with the labels typed and those the pool's labelled rows use; the
    pool's labelled rows are its first answers."""
    typed = parse_labels(labels) if labels else ()
    used = pool.given_labels
    if not typed and len(used) < 2:
        raise DataError(
            "no labels to choose from: type them (e.g. billing,delivery,other) or give a pool "
            "whose label column already uses at least 2"
        )
    merged = merge_labels(typed, used)
    now = _now()
    given = {i: label for i, label in pool.given.items()}
    return Session(pool, merged, model, model_key or model, given, (), now, now)


# ----------------------------------------------------------------------------- the workspace


def session_path(folder: Path, session_id: str) -> Path:
    """The file of a session in the workspace's sessions folder."""
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise DataError(f"invalid session id {session_id!r}: expected 16 hexadecimal digits")
    return folder / f"{session_id}.json"


def save_session(folder: Path, session: Session) -> Path:
    """Write the session whole (a reader sees the old file or the new one)."""
    path = session_path(folder, session.id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(session.to_dict(), ensure_ascii=False))
    except OSError as exc:
        raise StorageError(f"cannot save the labelling session in {folder}: {exc}") from exc
    return path


def load_session(folder: Path, session_id: str) -> Session:
    """The session saved under `session_id`; a DataError when it is gone or unreadable."""
    path = session_path(folder, session_id)
    try:
        return Session.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise DataError(f"no labelling session {session_id} in {folder}") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"the labelling session {session_id} cannot be read ({exc})") from exc


def list_sessions(folder: Path) -> list[Session]:
    """The sessions kept in `folder`, the most recently changed first (unreadable files are
    left out)."""
    found = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            found.append(load_session(folder, path.stem))
        except DataError:
            continue
    return sorted(found, key=lambda s: s.updated_at, reverse=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

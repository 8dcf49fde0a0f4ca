"""The Label page's state: the session being labelled (its id in the URL, the session itself in
the workspace's .labelling/ folder), the model that embeds its pool (cached loaders), the pool's
vectors and the head's guesses, kept for the browser tab so a click redraws without a refit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from core.errors import EmbedtuneError
from core.label.learner import Guesses, guess
from core.label.loop import EMBEDDINGS_DIR, Embedded, Extra, embed
from core.label.models import PoolModel, base_model, run_model
from core.label.session import SESSIONS_DIR, Session, load_session, save_session
from ui import loaders, state

if TYPE_CHECKING:
    from core.model.classifier import Embedder

SESSION_QUERY = "label"  # ?label=<session id>: a refresh and a restart find the session again
SESSION = "label_session_id"
VECTORS = "label_vectors"  # (session id, labels, model key) -> (Embedded, Extra)
GUESSES = "label_guesses"  # (session id, labels, batch) -> Guesses | None
BATCH_SIZE = "label_batch_size"
AUDIT = "label_audit"  # texts of a batch drawn at random (they measure the model)
DEFAULT_BATCH = 12
"""Texts a batch asks: the issue's 10-20; a screen's worth at one line each."""


def folder() -> Path:
    """The workspace's labelling sessions (beside its runs, in shared-demo mode its own)."""
    return state.store().root / SESSIONS_DIR


def active_id() -> str | None:
    """The session being labelled: from this tab, else from the URL after a refresh."""
    session_id = st.session_state.get(SESSION) or st.query_params.get(SESSION_QUERY)
    if session_id and st.query_params.get(SESSION_QUERY) != session_id:
        st.query_params[SESSION_QUERY] = session_id
    return session_id or None


def set_active(session_id: str | None) -> None:
    if session_id is None:
        st.session_state.pop(SESSION, None)
        st.query_params.pop(SESSION_QUERY, None)
    else:
        st.session_state[SESSION] = session_id
        st.query_params[SESSION_QUERY] = session_id


def load() -> Session | None:
    """The active session, or None (an id that names no session is forgotten, and said)."""
    session_id = active_id()
    if session_id is None:
        return None
    try:
        return load_session(folder(), session_id)
    except EmbedtuneError as exc:
        set_active(None)
        st.warning(f"The labelling session in the link is gone: {exc}", icon=":material/warning:")
        return None


def save(session: Session) -> None:
    """Write the session whole in the workspace (every answer is kept at once)."""
    save_session(folder(), session)


def pool_model(name: str) -> PoolModel:
    """A base model or a completed run, as a session sees it."""
    from core.runs.resolve import resolve

    store = state.store()
    ref = resolve(name, store)
    if ref.source == "base":
        return base_model(name)
    record = store.get(ref.name)
    try:
        train = store.load_dataset(ref.name).train
    except EmbedtuneError:
        train = None
    classes, multi = run_labels(record)
    return run_model(ref.name, ref.finished_at, classes, multi, train)


def run_labels(record: Any) -> tuple[tuple[str, ...], bool]:
    """A run's labels and whether it is multi-label (its data summary, as a record or a dict)."""
    data = record.data
    if isinstance(data, dict):
        return tuple(data.get("classes") or ()), bool(data.get("multi_label"))
    return tuple(data.classes), bool(data.multi_label)


def model(name: str) -> Embedder:
    """The loaded model (once per process: st.cache_resource in ui.loaders)."""
    from core.runs.resolve import resolve

    store = state.store()
    ref = resolve(name, store)
    if ref.source == "base":
        return loaders.embedder(ref.name)
    return loaders.classifier(str(store.root), ref.name, ref.finished_at)


def base_of(name: str) -> str:
    """The base model under a model name (a run's own base model)."""
    from core.model.catalogue import CATALOGUE

    if name in CATALOGUE:
        return name
    try:
        return state.store().get(name).config.base_model
    except EmbedtuneError:
        return "small"


def vectors(
    session: Session, progress: Callable[[int, int, float], None] | None = None
) -> tuple[Embedded, Extra]:
    """The session's vectors (pool, label names, a run's training rows), embedded once per
    (texts, model) in the workspace and kept for this tab."""
    key = (session.id, session.labels, session.model_key)
    kept = st.session_state.get(VECTORS)
    if kept is not None and kept[0] == key:
        return kept[1]
    extra = pool_model(session.model).rows
    extra = Extra(
        tuple(
            t for t, label in zip(extra.texts, extra.labels, strict=True) if label in session.labels
        ),
        tuple(label for label in extra.labels if label in session.labels),
    )
    bar = None
    if progress is None:  # a resumed session whose kept embeddings are gone: embedded again
        bar = st.empty()

        def progress(done: int, total: int, seconds: float) -> None:
            if seconds or done < total:
                bar.progress(done / total, text=f"Embedding the pool: {done:,} of {total:,} texts")

    embedded = embed(
        session, model(session.model).embed, folder() / EMBEDDINGS_DIR, extra, progress
    )
    if bar is not None:
        bar.empty()
    st.session_state[VECTORS] = (key, (embedded, extra))
    return embedded, extra


def guesses(session: Session, embedded: Embedded, extra: Extra) -> Guesses | None:
    """The head's guesses for the pool, refitted once a batch (kept until the next batch is
    asked or the labels change: a click on an answer redraws without a refit)."""
    key = _guesses_key(session)
    kept = st.session_state.get(GUESSES)
    if kept is not None and kept[0] == key:
        return kept[1]
    position = {label: i for i, label in enumerate(session.labels)}
    rows = None
    if extra.texts:
        rows = (embedded.extra, _positions(extra.labels, position))
    found = guess(
        embedded.pool,
        {i: position[label] for i, label in session.labelled.items()},
        embedded.names,
        embedded.name_labels,
        len(session.labels),
        extra=rows,
    )
    remember_guesses(session, found)
    return found


def remember_guesses(session: Session, found: Guesses | None) -> None:
    st.session_state[GUESSES] = (_guesses_key(session), found)


def _guesses_key(session: Session) -> tuple[object, ...]:
    return (session.id, session.labels, session.batch)


def _positions(labels: tuple[str, ...], position: dict[str, int]) -> Any:
    import numpy as np

    return np.array([position[label] for label in labels], dtype=np.int64)


def batch_settings() -> tuple[int, int]:
    """The batch size and how many of it are drawn at random, as the page's inputs say."""
    from core.label.strategy import AUDIT_PER_BATCH

    n = int(st.session_state.get(BATCH_SIZE, DEFAULT_BATCH))
    return n, min(int(st.session_state.get(AUDIT, AUDIT_PER_BATCH)), n // 2)

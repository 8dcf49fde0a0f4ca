"""Starting or resuming a labelling session: the sessions kept in the workspace, and a new one
from an uploaded pool, a model (a base model, or a finished run to label more where it is
unsure) and the labels typed or found in the pool's labelled rows; the pool embedded once with
its progress and time left shown."""

from __future__ import annotations

import hashlib
import time

import streamlit as st

from core.data.files import EXTENSIONS
from core.errors import EmbedtuneError
from core.io import encoding_warning
from core.label.embeddings import cache_path
from core.label.loop import EMBEDDINGS_DIR, advance
from core.label.pool import Pool, merge_labels, parse_labels, read_pool
from core.label.session import Session, list_sessions, load_session, new_session
from core.runs.store import RunRecord
from ui import label_state, loaders, state
from ui.widgets import fmt_duration, fmt_time, md, plural, run_title, show_error

UPLOAD = "label_upload"
MODEL = "label_model"
LABELS = "label_labels"
MODEL_QUERY = "label_model"  # ?label_model=<run id>: the Dashboard's "label more" link
FROM_LINK = "label_model_from_link"  # the run a link chose, applied once


def from_link() -> None:
    """A link naming a run to label more for starts a new session (the one open is kept)."""
    wanted = st.query_params.get(MODEL_QUERY)
    if wanted and st.session_state.get(FROM_LINK) != wanted:
        label_state.set_active(None)


@st.cache_data(max_entries=2, show_spinner="Reading the pool…")
def _read(_raw: bytes, digest: str, name: str) -> Pool:
    return read_pool(_raw, name=name)


def draw_resume() -> None:
    """The sessions kept in the workspace, to resume one."""
    sessions = list_sessions(label_state.folder())
    if not sessions:
        return
    with st.container(border=True):
        st.markdown("**Resume a session**")
        chosen = st.selectbox(
            "Sessions kept in this workspace",
            sessions,
            format_func=describe,
            key="label_resume_choice",
        )
        if st.button("Resume", key="label_resume", icon=":material/play_arrow:"):
            label_state.set_active(chosen.id)
            st.rerun()


def describe(session: Session) -> str:
    return (
        f"{session.pool.name or 'pool'} · {len(session.pool):,} texts · "
        f"{len(session.labelled)} labelled · {len(session.labels)} labels · {session.model} · "
        f"{fmt_time(session.updated_at)}"
    )


def model_choices() -> list[str]:
    """Installed base models, then the completed runs (newest first)."""
    bases = [m.key for m in loaders.models() if m.installed] or ["small"]
    runs = [r for r in state.store().list() if isinstance(r, RunRecord) and r.status == "completed"]
    runs = [r for r in runs if not label_state.run_labels(r)[1]]
    return [*bases, *(r.id for r in runs)]


def model_name(choice: str) -> str:
    try:
        record = state.store().get(choice)
    except EmbedtuneError:
        return f"{choice} (base model)"
    return f"finished run: {run_title(record)}"


def draw_new() -> None:
    """A new session: the pool, the model, the labels, then 'Start labelling'."""
    st.markdown("**A new session**")
    uploaded = st.file_uploader(
        "Texts to label: CSV or TSV, Excel, JSON Lines or JSON, Parquet; a text column, and a "
        "label column if some rows are labelled already",
        type=list(EXTENSIONS),
        key=UPLOAD,
    )
    choices = model_choices()
    wanted = st.query_params.get(MODEL_QUERY)
    if wanted in choices and st.session_state.get(FROM_LINK) != wanted:
        st.session_state[MODEL] = wanted  # once: the user may choose another after
        st.session_state[FROM_LINK] = wanted
    model = st.selectbox(
        "Model that reads the texts",
        choices,
        format_func=model_name,
        key=MODEL,
        help="A base model, or a finished run to label more where it is unsure: its body reads "
        "the pool, its labels and the rows it was trained on start the session.",
    )
    pool = None
    if uploaded is not None:
        raw = uploaded.getvalue()
        digest = hashlib.sha256(uploaded.name.encode() + b"\0" + raw).hexdigest()
        try:
            pool = _read(raw, digest, uploaded.name)
        except EmbedtuneError as exc:
            show_error(exc)
    if uploaded is not None and pool is not None:
        for note in (encoding_warning(raw, uploaded.name), *pool.notes):
            if note:
                st.warning(md(note), icon=":material/warning:")
        given = pool.given_labels
        st.caption(
            f"{md(pool.name)}: {len(pool):,} different texts"
            + (
                f", {len(pool.given)} labelled already ({plural(len(given), 'label')}: "
                f"{md(', '.join(given[:12]))}{' …' if len(given) > 12 else ''})"
                if pool.given
                else ", none labelled yet"
            )
        )
    run_labels = _run_labels(model)
    if run_labels and not st.session_state.get(LABELS):
        st.session_state[LABELS] = ", ".join(run_labels)
    typed = st.text_area(
        "Labels, comma- or line-separated (labels the file's rows use join them)",
        key=LABELS,
        placeholder="e.g. billing, delivery, refund, account access",
        height=90,
        help="Names that are words let the model guess before any text is labelled "
        "(card_arrival reads as 'card arrival').",
    )
    if pool is None:
        if uploaded is None:
            st.caption("Upload the texts to label to start.")
        return
    if not typed.strip() and not pool.given_labels:
        st.caption("Type the labels to start (press Ctrl+Enter or click outside the box).")
        return
    try:
        labels = merge_labels(parse_labels(typed) if typed.strip() else (), pool.given_labels)
        new_session(pool, labels)  # says what is wrong with the labels before a model loads
    except EmbedtuneError as exc:
        show_error(exc)
        return
    _embed_estimate(pool, model)
    if st.button("Start labelling", type="primary", key="label_start", icon=":material/label:"):
        start(pool, labels, model)


def _run_labels(model: str) -> tuple[str, ...]:
    try:
        return label_state.pool_model(model).labels
    except EmbedtuneError:
        return ()


def _embed_estimate(pool: Pool, model: str) -> None:
    """How long embedding the pool takes here (this machine's pace), or that it is kept."""
    from core.runs.estimate import rates

    try:
        key = label_state.pool_model(model).key
    except EmbedtuneError as exc:
        show_error(exc)
        return
    kept = cache_path(label_state.folder() / EMBEDDINGS_DIR, key, pool.texts).is_file()
    if kept:
        st.caption(f"These {len(pool):,} texts were embedded by this model before: no wait.")
        return
    pace = rates(state.store(), label_state.base_of(model)).encode_texts_per_s
    st.caption(
        f"The pool is embedded once ({len(pool):,} texts at about {pace:.0f} a second here: "
        f"about {fmt_duration(len(pool) / pace)}), then kept in the workspace for every batch, "
        "a refresh and a restart."
    )


def start(pool: Pool, labels: tuple[str, ...], model: str) -> None:
    """Make (or resume) the session, embed the pool with progress, ask the first batch."""
    try:
        chosen = label_state.pool_model(model)
        session = new_session(pool, labels, model=model, model_key=chosen.key)
        try:  # the same pool and model: the session kept, with any labels typed added
            kept = load_session(label_state.folder(), session.id)
            fresh = {i: a for i, a in pool.given.items() if i not in kept.answers}
            session = kept.with_labels(merge_labels(kept.labels, labels)).answer(fresh)
        except EmbedtuneError:
            pass
        bar = st.progress(0.0, text=f"Embedding the pool: 0 of {len(pool):,} texts")

        def progress(done: int, total: int, seconds: float) -> None:
            left = seconds / done * (total - done) if done else 0.0
            tail = f" · about {fmt_duration(left)} left" if done < total else ""
            bar.progress(
                done / total, text=f"Embedding the pool: {done:,} of {total:,} texts{tail}"
            )

        started = time.perf_counter()
        embedded, extra = label_state.vectors(session, progress)
        bar.progress(1.0, text=f"Pool embedded in {fmt_duration(time.perf_counter() - started)}")
        n, drawn = label_state.batch_settings()
        turn = advance(session, embedded, n, extra=extra, audit_texts=drawn)
        label_state.save(turn.session)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    label_state.remember_guesses(turn.session, turn.guesses)
    label_state.set_active(turn.session.id)
    st.rerun()

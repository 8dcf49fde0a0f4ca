"""The batch being labelled: each text with one click per answer (the head's likeliest labels as
buttons, a searchable list for the rest when there are many, skip, none of these), each answer
kept in the workspace at once; "Next batch" refits the head and asks the next texts."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core.errors import EmbedtuneError
from core.label.learner import Guesses
from core.label.loop import advance
from core.label.pool import ANSWERS, NONE_OF_THESE, SKIP
from core.label.session import Session, load_session
from ui import label_state
from ui.widgets import md, show_error

ALL_AS_BUTTONS = 8
"""Up to this many labels, every label is a button; above, the head's likeliest TOP_GUESSES are
buttons and the others a searchable list (150 buttons a text would bury the text)."""
TOP_GUESSES = 4
SCROLL = "label_scroll"  # a batch was just asked: bring it into view
BATCH_TIME = "label_batch_s"  # seconds the last "Next batch" took (refit, estimate, choice)


def options(session: Session, guesses: Guesses | None, index: int) -> list[str]:
    """The buttons under a text: every label when few, else the head's likeliest first."""
    labels = list(session.labels)
    if len(labels) <= ALL_AS_BUTTONS:
        return [*labels, *ANSWERS]
    if guesses is None:
        return [*labels[:TOP_GUESSES], *ANSWERS]
    order = np.argsort(-guesses.probabilities[index], kind="stable")[:TOP_GUESSES]
    return [*(labels[int(i)] for i in order), *ANSWERS]


def record(session_id: str, index: int, key: str) -> None:
    """A click: the answer is written to the session in the workspace before the page redraws."""
    answer = st.session_state.get(key)
    if not answer:
        return
    try:
        session = load_session(label_state.folder(), session_id)
        label_state.save(session.answer({index: answer}))
    except EmbedtuneError as exc:
        st.session_state["label_error"] = str(exc)


def draw_batch(session: Session, guesses: Guesses | None) -> None:
    """The batch in view, and the button that asks the next one. A fragment: a click on an
    answer redraws the batch alone, not the page (its charts and tables of the whole pool)."""
    st.fragment(_batch)(session.id, guesses)
    if st.session_state.pop(SCROLL, False):
        scroll_to_batch()


def _batch(session_id: str, guesses: Guesses | None) -> None:
    try:
        session = load_session(label_state.folder(), session_id)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    batch = session.batch
    if not batch:
        st.info("No batch asked yet.", icon=":material/info:")
    many = len(session.labels) > ALL_AS_BUTTONS
    for number, index in enumerate(batch, start=1):
        answer = session.answers.get(index)
        with st.container(border=True):
            done = ":green[:material/check_circle:] " if answer is not None else ""
            guessed = ""
            if guesses is not None:
                label = session.labels[int(guesses.predictions[index])]
                guessed = f" :gray[· guess: {md(label)}, {guesses.confidences[index]:.0%} sure]"
            st.markdown(f"{done}**{number}.** {md(session.pool.texts[index])}{guessed}")
            choices = options(session, guesses, index)
            key = f"label_answer_{session.id}_{index}"
            st.session_state.setdefault(key, answer if answer in choices else None)
            st.segmented_control(
                f"Answer for text {number}",
                choices,
                key=key,
                label_visibility="collapsed",
                on_change=record,
                args=(session.id, index, key),
            )
            if many:
                other = f"label_other_{session.id}_{index}"
                rest = [label for label in session.labels if label not in choices]
                st.session_state.setdefault(other, answer if answer in rest else None)
                st.selectbox(
                    f"Another label for text {number}",
                    rest,
                    index=None,
                    key=other,
                    placeholder=f"Another of the {len(session.labels)} labels: type to search",
                    label_visibility="collapsed",
                    on_change=record,
                    args=(session.id, index, other),
                )
    error = st.session_state.pop("label_error", None)
    if error:
        st.error(md(error), icon=":material/block:")
    answered = sum(1 for i in batch if i in session.answers)
    left, right = st.columns([1, 3], vertical_alignment="center")
    asked = left.button(
        "Next batch",
        type="primary",
        icon=":material/arrow_forward:",
        key="label_next",
        shortcut="ctrl+enter",
        help="Refit the model on your answers and ask the texts it is least sure of (Ctrl+Enter).",
    )
    seconds = st.session_state.get(BATCH_TIME)
    timing = f" The last batch took {seconds:.1f} s to choose." if seconds is not None else ""
    right.caption(
        f"{answered} of {len(batch)} answered in this batch; texts left unanswered are asked "
        f"again later. Skip: not now; none of these: fits no label (neither trains).{timing}"
    )
    if asked:
        next_batch(session.id)


def next_batch(session_id: str) -> None:
    """Refit on every answer, estimate the accuracy, ask the next texts; then redraw."""
    try:
        session = load_session(label_state.folder(), session_id)
        embedded, extra = label_state.vectors(session)
        started = time.perf_counter()
        n, drawn = label_state.batch_settings()
        turn = advance(session, embedded, n, extra=extra, audit_texts=drawn)
        st.session_state[BATCH_TIME] = time.perf_counter() - started
        label_state.save(turn.session)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    label_state.remember_guesses(turn.session, turn.guesses)
    st.session_state[SCROLL] = True
    st.rerun()


def scroll_to_batch() -> None:
    """After "Next batch" the page would stay at its foot: bring the new batch into view."""
    import streamlit.components.v1 as components

    components.html(
        """<script>
        const doc = window.parent.document;
        const heading = [...doc.querySelectorAll("h2, h3")]
            .find((h) => h.textContent.startsWith("Next to label"));
        if (heading) heading.scrollIntoView({block: "start"});
        </script>""",
        height=0,
    )


def answered_words(session: Session) -> str:
    """'40 labelled · 3 skipped · 1 none of these'."""
    skipped = sum(1 for a in session.answers.values() if a == SKIP)
    none = sum(1 for a in session.answers.values() if a == NONE_OF_THESE)
    return f"{len(session.labelled)} labelled · {skipped} skipped · {none} none of these"

"""Label page: from a pool of unlabelled texts and a list of labels to labelled rows, asking for
the texts the model is least sure of, then to a finetune on them. (Its parts: ui/label_start.py,
ui/label_batch.py, ui/label_report.py, ui/label_state.py; the loop itself: core/label.)"""

from __future__ import annotations

import streamlit as st

from core.errors import EmbedtuneError
from core.label.strategy import AUDIT_PER_BATCH
from ui import label_state
from ui.label_batch import answered_words, draw_batch
from ui.label_report import draw_export, draw_guesses, draw_handover, draw_progress
from ui.label_start import describe, draw_new, draw_resume, from_link
from ui.widgets import md, show_error

st.title("Label")
st.markdown(
    "Have texts but no labels yet? Upload them with the list of labels in your head: the model "
    "guesses from the label names, asks you the texts it is least sure of a batch at a time, "
    "and learns from each answer. Then finetune on the rows you labelled."
)

from_link()
session = label_state.load()
if session is None:
    draw_resume()
    draw_new()
    st.stop()

top, leave = st.columns([3, 1], vertical_alignment="center")
top.markdown(f"**Session:** {md(describe(session))}")
top.caption(answered_words(session))
if leave.button("Other session", key="label_leave", icon=":material/swap_horiz:"):
    label_state.set_active(None)
    st.rerun()
for note in session.pool.notes:
    st.caption(md(note))

try:
    embedded, extra = label_state.vectors(session)
    guesses = label_state.guesses(session, embedded, extra)
except EmbedtuneError as exc:
    show_error(exc)
    st.stop()

with st.expander("The model's guesses for the pool", expanded=not session.labelled):
    draw_guesses(session, guesses)

st.subheader("Progress")
st.caption("As of the last batch: the model learns your answers when you ask the next one.")
draw_progress(session, guesses)

st.subheader("Next to label")
size, audit = st.columns(2)
size.number_input(
    "Texts a batch",
    min_value=1,
    max_value=50,
    value=label_state.DEFAULT_BATCH,
    key=label_state.BATCH_SIZE,
    help="The texts asked at a time; the model is refitted after each batch.",
)
audit.number_input(
    "Of them drawn at random",
    min_value=0,
    max_value=4,
    value=AUDIT_PER_BATCH,
    key=label_state.AUDIT,
    help="Texts drawn at random measure the model on the pool as it is (the others are the "
    "ones it is least sure of). They cost a little: in the benchmark, 2 of 12 at random gave "
    "0.775 mean test macro-F1 at 400 labels against 0.785 with none (docs/LABELLING.md). "
    "0: no accuracy estimate.",
)
draw_batch(session, guesses)

st.subheader("Use the labelled rows")
draw_export(session)
draw_handover(session)

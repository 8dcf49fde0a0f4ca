"""Data page: upload the training (and validation) file, choose its sheet, header and columns,
preview it, review it, use it. (Its parts: ui/data_files.py, ui/data_review.py,
ui/label_check.py, ui/data_use.py.)"""

from __future__ import annotations

import hashlib

import streamlit as st

from core.data.files import EXTENSIONS
from core.data.header import HeaderRowError
from core.data.labeled import LabeledTexts
from core.data.table import Table
from core.errors import EmbedtuneError
from core.io import encoding_warning
from core.quality.prepare import review_for_model
from ui import state
from ui.data_files import (
    file_options,
    files,
    header_prompt,
    labeled,
    load_example,
    on_upload,
    read,
    upload_limit,
)
from ui.data_review import draw_review, preview, review_options
from ui.data_use import in_use, use_data
from ui.label_check import check_labels
from ui.multilabel import multilabel_options
from ui.widgets import md, show_error

st.title("Data")
st.markdown(
    "Upload a file with a **text** and a **label** per row: CSV or TSV, Excel (.xlsx), JSON Lines "
    'or a JSON list of records (`{"text": ..., "label": ...}`), or Parquet. When a file '
    "has more columns, choose the two. A validation file is optional: without one, part of the "
    "training file is held out."
)

current = files()
saved_data = state.dataset()
if saved_data is not None and current["train"] is None:
    in_use(saved_data)
uploads = st.columns(2)
for which, column in zip(("train", "valid"), uploads, strict=True):
    with column:
        st.file_uploader(
            "Training data" if which == "train" else "Validation data (optional)",
            type=list(EXTENSIONS),
            key=f"upload_{which}",
            on_change=on_upload,
            args=(which,),
        )
st.button(
    "Load the example data set (600 Reddit comments, 6 emotions)",
    icon=":material/inventory_2:",
    on_click=load_example,
    key="load_example",
    help="Reddit comments labelled admiration, amusement, anger, curiosity, gratitude or love "
    "(GoEmotions, Demszky et al. 2020). examples/emotions-test.csv is a test file for the "
    "Metrics page.",
)

read_files: dict[str, LabeledTexts | None] = {"train": None, "valid": None}
notes = []  # what the user should know about how a file was read (encoding, format)
problems: list[tuple[str, Table, EmbedtuneError]] = []
unread = False  # a file that could not be read at all (its error is shown)
read_as = {}  # (digest, header, sheet, text, label) of each file: what the review saw
for which, column in zip(("train", "valid"), uploads, strict=True):
    if current[which] is None:
        continue
    name, raw = current[which]
    options = current["options"][which]
    digest = hashlib.sha256(name.encode() + b"\0" + raw).hexdigest()
    try:
        table = read(raw, digest, name, options["header"], options["sheet"], upload_limit())
    except EmbedtuneError as exc:
        show_error(exc)
        unread = True
        continue
    with column:
        text, label = file_options(which, table)
        multi = multilabel_options(which, table, text, label)
    read_as[which] = (digest, options["header"], table.sheet, text, label, *multi)
    try:
        read_files[which] = labeled(table, *read_as[which])
    except EmbedtuneError as exc:
        problems.append((which, table, exc))
        continue
    notes += [encoding_warning(raw, name), *table.notes]

for which, table, exc in problems:
    if isinstance(exc, HeaderRowError):
        header_prompt(which, table, exc)
    else:
        show_error(exc)
train, valid = read_files["train"], read_files["valid"]
if unread or problems or train is None:
    if current["train"] is None and saved_data is None:
        st.info("Upload a training file, or load the example data set to try everything at once.")
    st.stop()
for note in notes:
    if note is not None:
        st.warning(md(note), icon=":material/warning:")

st.divider()
st.subheader("Preview")
preview(train, valid)

st.divider()
st.subheader("Review")
model, cleaning, fraction = review_options(valid is not None)
review_key = (tuple(read_as.values()), model, cleaning, fraction)
if st.button("Review data", type="primary", key="review_data"):
    try:
        with st.spinner("Reviewing…"):
            report = review_for_model(
                train, valid, model=model, cleaning=cleaning, valid_fraction=fraction
            )
        st.session_state[state.REVIEW] = (review_key, report)
    except EmbedtuneError as exc:
        show_error(exc)
stored = st.session_state.get(state.REVIEW)
if stored is None:
    st.caption("Review the data before using it: counts, problems and what to drop.")
elif stored[0] != review_key:
    st.info("The files or options changed since the last review: review the data again.")
else:
    draw_review(stored[1], train, valid, cleaning)
    st.divider()
    st.subheader("Check labels")
    checked_train, label_changes = check_labels(train, model, cleaning, review_key)
    st.divider()
    st.subheader("Use this data")
    use_data(stored[1], checked_train, valid, cleaning, fraction, review_key, label_changes)

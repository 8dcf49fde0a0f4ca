"""The Data page's last step: drop the flagged rows chosen, register the data set (kept in the
workspace) and show the data set in use."""

from __future__ import annotations

import streamlit as st

from core.data.cleaning import CleaningConfig
from core.data.labeled import LabeledTexts
from core.errors import EmbedtuneError
from core.quality.checks import RARE_LABEL_EXAMPLES
from core.quality.prepare import prepare_data
from core.quality.review import DROP_KINDS, Review, droppable_rows
from core.runs.datasets import SavedData
from ui import state
from ui.widgets import TRAIN_PAGE, md, show_error

DROP_NAMES = {
    "empty": "Rows with an empty text or label",
    "duplicates": "Repeated rows (the first copy is kept)",
    "conflicting": "Texts given more than one label",
    "rare_labels": f"Labels with fewer than {RARE_LABEL_EXAMPLES} examples",
    "leakage": "Validation texts that are also in the training file",
}
NOT_SAVED = "data_not_saved"  # why the registered data set could not be saved, if it could not


def use_data(
    review: Review,
    train: LabeledTexts,
    valid: LabeledTexts | None,
    cleaning: CleaningConfig,
    fraction: float,
    key: tuple,
    choices: dict[int, str] | None = None,
) -> None:
    choices = choices or {}
    if choices:
        relabelled = sum(1 for c in choices.values() if c == "relabel")
        st.caption(
            f"With your label choices: {relabelled} rows relabelled, "
            f"{len(choices) - relabelled} dropped (the uploaded file is not changed)."
        )
    st.markdown("**Drop flagged rows** (by what the review found)")
    drop = []
    for kind in DROP_KINDS:
        n = sum(len(rows) for rows in droppable_rows(review, [kind]).values())
        if st.checkbox(f"{DROP_NAMES[kind]} ({n})", key=f"drop_{kind}", disabled=n == 0):
            drop.append(kind)
    if st.button("Use this data", type="primary", key="use_data"):
        try:
            data = prepare_data(train, valid, report=review, drop=drop, valid_fraction=fraction)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        unsaved = state.set_dataset(SavedData(data, cleaning, dict(choices)))
        st.session_state[NOT_SAVED] = unsaved
        st.session_state[state.DATASET_KEY] = (key, tuple(drop), tuple(sorted(choices.items())))
        st.rerun()  # the sidebar shows the new data set
    saved = state.dataset()
    registered = (key, tuple(drop), tuple(sorted(choices.items())))
    if saved is not None and st.session_state.get(state.DATASET_KEY) == registered:
        n_train, n_valid = saved.data.sizes()
        unsaved = st.session_state.get(NOT_SAVED)
        kept = (
            "It is saved in the workspace: this page's link finds it again after a refresh or a "
            "restart."
            if unsaved is None
            else f"It is kept in this browser tab only (a refresh loses it): {md(unsaved)}"
        )
        st.success(
            f"Data set ready: {n_train} training and {n_valid} validation examples, "
            f"{len(saved.data.classes)} labels. {kept}",
            icon=":material/check_circle:",
        )
        st.page_link(
            TRAIN_PAGE, label="Next: choose a base model and train", icon=":material/arrow_forward:"
        )


def in_use(saved: SavedData) -> None:
    """The registered data set, shown when no file is loaded on the page (after a refresh)."""
    n_train, n_valid = saved.data.sizes()
    relabelled = sum(1 for c in saved.label_choices.values() if c == "relabel")
    dropped = len(saved.label_choices) - relabelled
    edits = (
        f" · label check: {relabelled} relabelled, {dropped} dropped" if saved.label_choices else ""
    )
    source = "a validation file" if saved.data.valid is not None else "held out from training"
    with st.container(border=True):
        st.markdown(f"**Data set in use:** {md(saved.name)}")
        st.caption(
            f"{n_train} training and {n_valid} validation examples ({source}) · "
            f"{len(saved.data.classes)} labels{edits} · cleaning: "
            f"{', '.join(saved.cleaning.rules) or 'off'}"
        )
        st.page_link(TRAIN_PAGE, label="Train on it", icon=":material/arrow_forward:")
    st.caption("Upload a file below to replace it.")

"""The Data page's "Check labels" section: run the label check, the user's keep / relabel / drop
choice for each flagged row (one by one or above a confidence), near-duplicate pairs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.data.cleaning import CleaningConfig, clean
from core.data.labeled import LabeledTexts
from core.errors import EmbedtuneError
from core.quality.label_choices import CHOICES, apply_choices, choices_above
from core.quality.label_issues import LabelIssues, find_label_issues
from ui import loaders, state
from ui.data_review import ROWS_SHOWN
from ui.widgets import md, show_error

LABEL_EDITOR = "label_editor"
CHOICE_HELP = (
    "keep: leave the row as it is · relabel: give it the suggested label · drop: leave it out "
    "of training. Nothing changes until you choose."
)


def label_choices() -> dict:
    """The user's choices for the flagged rows: {"choices": {row: choice}, "version": n}; the
    version names the table widget, so a bulk choice draws a fresh table."""
    return st.session_state.setdefault(state.LABEL_CHOICES, {"choices": {}, "version": 0})


def run_label_check(train: LabeledTexts, model: str, cleaning: CleaningConfig, key: tuple) -> None:
    # The check sees the texts as the model will (cleaned when cleaning is on).
    checked = clean(train, cleaning)[0] if cleaning.enabled else train
    try:
        with st.spinner("Embedding the texts and checking the labels…"):
            result = find_label_issues(checked, model, model=loaders.embedder(model).model)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    st.session_state[state.LABEL_ISSUES] = (key, result)
    store = label_choices()
    store["choices"] = {}
    store["version"] += 1


def merge_table_edits(result: LabelIssues) -> None:
    """Fold the choices made in the table into the stored ones (before a new table is drawn)."""
    store = label_choices()
    edits = st.session_state.get(f"{LABEL_EDITOR}_{store['version']}") or {}
    for position, change in edits.get("edited_rows", {}).items():
        if "choice" in change and change["choice"] in CHOICES:
            store["choices"][result.issues[int(position)].row] = change["choice"]


def on_bulk_choice(result: LabelIssues, choice: str) -> None:
    merge_table_edits(result)
    store = label_choices()
    threshold = float(st.session_state.get("label_threshold", 0.9))
    store["choices"].update(choices_above(result, threshold, choice))
    store["version"] += 1


def on_reset_choices() -> None:
    store = label_choices()
    store["choices"] = {}
    store["version"] += 1


def check_labels(
    train: LabeledTexts, model: str, cleaning: CleaningConfig, key: tuple
) -> tuple[LabeledTexts, dict[int, str]]:
    """The "Check labels" section; returns the training data with the user's choices applied
    (the uploaded data itself when there are none) and the choices that changed something."""
    st.caption(
        "Finds rows whose label the base model's embeddings disagree with (out-of-fold "
        "predictions ranked by cleanlab), and texts that are almost the same. Takes about 5 s "
        "per 1,000 rows on a CPU; the result is cached. It uses the base model chosen above: "
        "'large' ranks wrong labels better where the small model separates the labels poorly "
        "(sentiment, emotions), and takes about 5 times as long."
    )
    if st.button("Check labels", icon=":material/fact_check:", key="check_labels"):
        run_label_check(train, model, cleaning, key)
    stored = st.session_state.get(state.LABEL_ISSUES)
    if stored is None or stored[0] != key:
        return train, {}
    result: LabelIssues = stored[1]
    if result.skipped_labels:
        st.info(
            "Not checked (fewer than 3 examples): "
            + ", ".join(md(label) for label in result.skipped_labels),
            icon=":material/info:",
        )
    if not result.issues:
        st.success("No likely label errors found.", icon=":material/check_circle:")
    else:
        st.markdown(
            f"**{len(result.issues)} rows may be mislabelled**, most likely first "
            "(confidence: the model's probability for the suggested label)."
        )
        b1, b2, b3, b4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
        b1.number_input(
            "Confidence at least",
            0.0,
            1.0,
            0.9,
            0.05,
            key="label_threshold",
            help="For the buttons: apply a choice to every flagged row at or above this.",
        )
        b2.button(
            "Relabel all above",
            key="relabel_above",
            on_click=on_bulk_choice,
            args=(result, "relabel"),
        )
        b3.button(
            "Drop all above", key="drop_above", on_click=on_bulk_choice, args=(result, "drop")
        )
        b4.button("Keep all", key="keep_all", on_click=on_reset_choices)
        store = label_choices()
        frame = pd.DataFrame(
            [
                {
                    "row": issue.row,
                    "text": issue.text,
                    "given label": issue.given_label,
                    "suggested label": issue.suggested_label,
                    "confidence": issue.suggested_confidence,
                    "choice": store["choices"].get(issue.row, "keep"),
                }
                for issue in result.issues
            ],
            columns=["row", "text", "given label", "suggested label", "confidence", "choice"],
        )
        edited = st.data_editor(
            frame,
            key=f"{LABEL_EDITOR}_{store['version']}",
            hide_index=True,
            height=min(420, 38 + 35 * len(frame)),
            disabled=["row", "text", "given label", "suggested label", "confidence"],
            column_config={
                "row": st.column_config.NumberColumn("row", width="small", format="%d"),
                "text": st.column_config.TextColumn("text", width="large"),
                "confidence": st.column_config.ProgressColumn(
                    "confidence", min_value=0.0, max_value=1.0, format="%.2f"
                ),
                "choice": st.column_config.SelectboxColumn(
                    "choice", options=list(CHOICES), required=True, help=CHOICE_HELP
                ),
            },
        )
        st.caption(CHOICE_HELP)
    if result.near_duplicates:
        conflicting = len(result.conflicting_pairs)
        total = len(result.near_duplicates) + result.more_pairs
        with st.expander(
            f"{total} near-duplicate pairs (cosine ≥ {result.threshold:g}), "
            f"{conflicting} with different labels"
        ):
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "rows": f"{p.rows[0]}, {p.rows[1]}",
                            "first text": p.texts[0],
                            "first label": p.labels[0],
                            "second text": p.texts[1],
                            "second label": p.labels[1],
                            "similarity": p.similarity,
                        }
                        for p in result.near_duplicates[:ROWS_SHOWN]
                    ]
                ),
                hide_index=True,
            )
            st.caption("Different labels first. Fix one label or drop a copy in your file.")
    if not result.issues:
        return train, {}
    choices = {
        int(row): str(choice)
        for row, choice in zip(edited["row"], edited["choice"], strict=True)
        if choice in ("relabel", "drop")
    }
    try:
        return apply_choices(train, result, choices), choices
    except EmbedtuneError as exc:
        show_error(exc)
        return train, {}

"""How the labelling goes and where it leads: labels given per label beside the head's guesses
for the pool (their spread), the accuracy estimate with its interval and its curve, the labelled
file to download, and the hand-over to Train (the labelled rows become the data set in use)."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core.data.cleaning import CleaningConfig
from core.errors import EmbedtuneError
from core.label.learner import Guesses
from core.label.progress import MIN_MEASURED, spread
from core.label.session import Session
from core.quality.prepare import prepare_data, review_for_model
from core.runs.datasets import SavedData
from ui import label_state, state
from ui.widgets import TRAIN_PAGE, md, plural, show_error

BARS_UP_TO = 30
"""Labels drawn as bars; above, the table alone (150 bars are unreadable), sortable."""
REVIEW = "label_review"  # (session id, answers) -> Review of the labelled rows


def label_table(session: Session, guesses: Guesses | None) -> pd.DataFrame:
    """One row per label: texts labelled with it, and pool texts the head guesses as it."""
    counts = session.counts()
    found = spread(guesses.probabilities, session.labels) if guesses is not None else None
    return pd.DataFrame(
        {
            "label": list(session.labels),
            "labelled": [counts[label] for label in session.labels],
            "guessed": list(found.counts) if found else [0] * len(session.labels),
            "sure": [None if c is None else round(100 * c) for c in found.confidence]
            if found
            else [None] * len(session.labels),
        }
    )


def draw_guesses(session: Session, guesses: Guesses | None) -> None:
    """The head's guesses for the pool: how they spread over the labels, and the texts."""
    if guesses is None:
        st.info(
            "No guesses yet: no two labels have an example, and the label names say nothing the "
            "model can use (codes). Label the texts below: they stand for the pool's groups.",
            icon=":material/info:",
        )
        return
    table = label_table(session, guesses)
    learnt = (
        f"{plural(guesses.labelled, 'labelled text')}, {plural(guesses.names, 'label name')} "
        f"and the {guesses.pseudo} pool texts it is surest of"
    )
    st.caption(f"The model learnt from {learnt}.")
    if len(session.labels) <= BARS_UP_TO:
        chart = (
            alt.Chart(table)
            .mark_bar()
            .encode(
                y=alt.Y("label:N", sort=list(session.labels), title=None),
                x=alt.X(
                    "guessed:Q",
                    title="pool texts guessed as the label",
                    axis=alt.Axis(tickMinStep=1, format="d"),
                ),
                tooltip=["label:N", "guessed:Q", "labelled:Q"],
            )
        )
        st.altair_chart(chart, width="stretch")
    found = spread(guesses.probabilities, session.labels)
    if len(session.labels) > BARS_UP_TO:
        ranked = sorted(zip(found.counts, session.labels, strict=True), reverse=True)[:5]
        st.caption(
            f"The guesses spread over {sum(1 for n in found.counts if n)} of the "
            f"{len(session.labels)} labels; the most guessed: "
            + ", ".join(f"{md(label)} ({n})" for n, label in ranked)
            + ". The table under Progress has every label (sortable)."
        )
    unguessed = found.unguessed()
    if unguessed:
        shown = ", ".join(unguessed[:10]) + (" …" if len(unguessed) > 10 else "")
        st.caption(f"No pool text is guessed as {len(unguessed)} of the labels: {md(shown)}.")
    with st.expander(f"The model's guess for each of the {len(session.pool):,} pool texts"):
        frame = pd.DataFrame(
            {
                "text": list(session.pool.texts),
                "guess": [session.labels[int(i)] for i in guesses.predictions],
                "confidence": guesses.confidences,
                "answer": [session.answers.get(i, "") for i in range(len(session.pool))],
            }
        )
        st.dataframe(
            frame,
            hide_index=True,
            column_config={"confidence": st.column_config.ProgressColumn(format="percent")},
        )


def draw_progress(session: Session, guesses: Guesses | None) -> None:
    """Labels given per label, the accuracy estimate with its interval, the curve so far."""
    last = session.history[-1] if session.history else None
    drawn = label_state.batch_settings()[1]
    c1, c2, c3 = st.columns(3)
    c1.metric("Labelled", f"{len(session.labelled)} of {len(session.pool):,}")
    c2.metric(
        "Labels with an example",
        f"{sum(1 for n in session.counts().values() if n)} of {len(session.labels)}",
    )
    if last is None:
        c3.metric("Accuracy estimate", "–")
        st.caption(
            f"{drawn} texts of each batch are drawn at random: they measure the model "
            f"on the pool as it is (the others are the hardest ones). The estimate starts at "
            f"{MIN_MEASURED} of them labelled."
        )
    else:
        c3.metric(
            "Accuracy estimate",
            f"{last.accuracy:.0%}",
            help=f"On the {last.n} labelled texts drawn at random, each guessed by a model "
            "fitted on everything else you labelled (5-fold cross-validation).",
        )
        st.caption(
            f"{last.right} of {last.n} texts drawn at random guessed right by a model that never "
            f"saw them; 95 % interval {last.low:.0%}–{last.high:.0%}. Texts drawn at random "
            "measure the model on the pool as it is (the others are the ones it is least sure "
            "of); the interval narrows as they add up."
        )
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Labels given**")
        table = label_table(session, guesses)
        st.dataframe(
            table,
            hide_index=True,
            height=min(400, 38 + 35 * len(table)),
            column_config={
                "labelled": st.column_config.NumberColumn(help="Texts you labelled with it"),
                "guessed": st.column_config.NumberColumn(
                    help="Pool texts the model now guesses as it"
                ),
                "sure": st.column_config.NumberColumn(
                    format="%d %%", help="The model's mean confidence in those guesses"
                ),
            },
        )
    with right:
        st.markdown("**Accuracy estimate so far**")
        if len(session.history) < 2:
            st.caption("The curve draws from the second estimate on (one a batch).")
        else:
            st.altair_chart(curve(session), width="stretch")


def curve(session: Session) -> alt.LayerChart:
    """The accuracy estimate after each batch, with its interval as a band."""
    frame = pd.DataFrame(
        [
            {"labelled": p.labelled, "accuracy": p.accuracy, "low": p.low, "high": p.high}
            for p in session.history
        ]
    )
    base = alt.Chart(frame).encode(x=alt.X("labelled:Q", title="labelled texts"))
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("low:Q", title="accuracy estimate", axis=alt.Axis(format=".0%")), y2="high:Q"
    )
    line = base.mark_line(point=True).encode(
        y="accuracy:Q",
        tooltip=[
            "labelled:Q",
            alt.Tooltip("accuracy:Q", format=".1%"),
            alt.Tooltip("low:Q", format=".1%"),
            alt.Tooltip("high:Q", format=".1%"),
        ],
    )
    return (band + line).properties(height=260)


def draw_export(session: Session) -> None:
    """The labelled rows as a CSV file (text, label), and every answer with skip / none."""
    from core.downloads import csv_bytes

    stem = Path(session.pool.name or "pool").stem
    rows = [(session.pool.texts[i], a) for i, a in session.answers.items()]
    labelled = [(t, a) for t, a in rows if a in session.labels]
    left, right = st.columns(2)
    left.download_button(
        f"Download the {plural(len(labelled), 'labelled row')} (CSV)",
        csv_bytes(("text", "label"), labelled),
        file_name=f"{stem}-labelled.csv",
        mime="text/csv",
        icon=":material/download:",
        key="label_download",
        disabled=not labelled,
    )
    right.download_button(
        f"Download every answer ({len(rows)}, with skip and none of these)",
        csv_bytes(("text", "label"), rows),
        file_name=f"{stem}-answers.csv",
        mime="text/csv",
        icon=":material/download:",
        key="label_download_all",
        disabled=not rows,
    )
    st.caption(
        "The answers file can go back into the pool's label column (or `python -m core suggest "
        "--train`): answered rows are never asked again."
    )


def draw_handover(session: Session) -> None:
    """'Finetune on these N rows': the labelled rows become the data set in use (reviewed as
    the Data page reviews a file), and the Train page opens on them."""
    n = len(session.labelled)
    empty = [label for label, count in session.counts().items() if not count]
    if n == 0:
        st.caption("Label some texts first: a finetune learns from labelled rows.")
        return
    if empty:
        shown = ", ".join(repr(label) for label in empty[:10]) + (" …" if len(empty) > 10 else "")
        st.warning(
            f"{plural(len(empty), 'label')} {'has' if len(empty) == 1 else 'have'} no labelled "
            f"text yet: {md(shown)}. A finetune can learn nothing of "
            f"{'it' if len(empty) == 1 else 'them'}: label a text with each, or leave "
            f"{'it' if len(empty) == 1 else 'them'} out (your answers are kept either way).",
            icon=":material/warning:",
        )
        if st.button(f"Leave out the {plural(len(empty), 'label')} with no text", key="label_drop"):
            try:
                label_state.save(session.with_labels([x for x in session.labels if x not in empty]))
            except EmbedtuneError as exc:
                show_error(exc)
                return
            st.rerun()
        return
    try:
        train = session.labelled_texts(every_label=True)
        review = _review(session, train)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    with st.expander(f"Review of the {n} labelled rows (as the Data page reviews a file)"):
        from ui.data_review import draw_review

        draw_review(review, train, None, CleaningConfig())
    if st.button(
        f"Finetune on these {n} rows",
        type="primary",
        icon=":material/model_training:",
        key="label_finetune",
    ):
        try:
            data = prepare_data(train, None, report=review, valid_fraction=0.2)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        unsaved = state.set_dataset(SavedData(data, CleaningConfig()))
        st.session_state["data_not_saved"] = unsaved  # ui.data_use.NOT_SAVED
        st.session_state[state.DATASET_KEY] = None
        st.switch_page(TRAIN_PAGE)


def _review(session: Session, train):  # noqa: ANN001, ANN202 - a Review
    key = (session.id, tuple(session.labelled.items()))
    kept = st.session_state.get(REVIEW)
    if kept is not None and kept[0] == key:
        return kept[1]
    review = review_for_model(
        train,
        None,
        model=label_state.base_of(session.model),
        cleaning=CleaningConfig(),
        valid_fraction=0.2,
    )
    st.session_state[REVIEW] = (key, review)
    return review

"""The Data page's preview and review: the rows read, the labels' counts, the review's options
(base model, validation share, cleaning) and its figures and findings with the rows concerned."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.data.cleaning import CleaningConfig
from core.data.labeled import LabeledTexts
from core.quality.review import Review
from ui import charts, loaders
from ui.multilabel import draw_stats
from ui.widgets import md

PREVIEW_ROWS = 1000
ROWS_SHOWN = 200
CLEANING_RULES = {
    "urls": "Remove web addresses (http://, https://, www.)",
    "html": "Remove HTML tags and decode entities (&amp; → &)",
    "symbols": "Remove stray symbols and control characters (keeps letters, digits, "
    "punctuation, currency signs and emoji)",
    "whitespace": "Collapse runs of spaces, tabs and newlines",
}
SEVERITY_BOX = {"error": st.error, "warning": st.warning, "info": st.info}
SEVERITY_ICON = {
    "error": ":material/block:",
    "warning": ":material/warning:",
    "info": ":material/info:",
}


def rows_frame(data: LabeledTexts, rows: tuple[int, ...] | None = None, limit: int = 0):
    """A table of (row, text, label); only `rows` when given."""
    wanted = set(rows) if rows is not None else None
    records = [
        {"row": row, "text": text, "label": label}
        for row, text, label in zip(data.rows, data.texts, data.labels, strict=True)
        if wanted is None or row in wanted
    ]
    if limit:
        records = records[:limit]
    return pd.DataFrame(records, columns=["row", "text", "label"])


def show_table(frame: pd.DataFrame, height: int | str = "auto") -> None:
    st.dataframe(
        frame,
        hide_index=True,
        height=height,
        column_config={
            "row": st.column_config.NumberColumn("row", width="small", format="%d"),
            "text": st.column_config.TextColumn("text", width="large"),
        },
    )


def preview(train: LabeledTexts, valid: LabeledTexts | None) -> None:
    left, right = st.columns([3, 2], gap="large")
    with left:
        tab_train, tab_valid = st.tabs(["Training", "Validation"])
        with tab_train:
            st.caption(
                f"{md(train.name)} · {len(train)} rows · {len(train.classes)} labels"
                + (f" · first {PREVIEW_ROWS} shown" if len(train) > PREVIEW_ROWS else "")
            )
            show_table(rows_frame(train, limit=PREVIEW_ROWS), height=320)
        with tab_valid:
            if valid is None:
                st.info(
                    "No validation file: a stratified share of each label is held out of the "
                    "training file for validation (set it under Review)."
                )
            else:
                st.caption(f"{md(valid.name)} · {len(valid)} rows · {len(valid.classes)} labels")
                show_table(rows_frame(valid, limit=PREVIEW_ROWS), height=320)
    with right:
        st.markdown("**Examples per label**")
        counts = {"Training file": train.class_counts()}
        if valid is not None:
            counts["Validation file"] = valid.class_counts()
        st.altair_chart(charts.label_distribution(counts), width="stretch")


def review_options(has_valid: bool) -> tuple[str, CleaningConfig, float]:
    installed = [m for m in loaders.models() if m.installed]
    keys = [m.key for m in installed] or ["small"]
    names = {m.key: f"{m.key} ({m.name})" for m in installed}
    c1, c2 = st.columns(2)
    with c1:
        model = st.selectbox(
            "Count tokens with the base model",
            keys,
            format_func=lambda k: names.get(k, k),
            key="data_model",
            help="Texts longer than the model's limit are cut; the review counts them.",
        )
    with c2:
        fraction = 0.2
        if not has_valid:
            fraction = st.slider(
                "Validation share (no validation file)",
                0.1,
                0.5,
                0.2,
                0.05,
                key="data_fraction",
                help="Share of the rows held out to measure the model, stratified by label: each "
                "label with 2 rows or more keeps at least 1 for validation; the run's seed chooses "
                "which rows.",
            )
    with st.expander("Cleaning (optional)"):
        st.caption(
            "Applied the same way at training and at prediction time. Off by default: the "
            "model sees the texts as you wrote them."
        )
        rules = {
            rule: st.checkbox(text, key=f"clean_{rule}") for rule, text in CLEANING_RULES.items()
        }
    return model, CleaningConfig(**rules), fraction


def draw_review(
    review: Review, train: LabeledTexts, valid: LabeledTexts | None, cleaning: CleaningConfig
) -> None:
    c1, c2, c3, c4 = st.columns(4)
    total = review.train_rows + review.valid_rows
    how = (
        "validation file"
        if review.valid_source == "file"
        else f"held out, {review.valid_rows / max(total, 1):.0%}"
    )
    c1.metric("Training examples", review.train_rows)
    c2.metric(f"Validation examples ({how})", review.valid_rows)
    c3.metric("Labels", review.num_classes)
    c4.metric(
        "Imbalance (largest / smallest)",
        "–" if review.imbalance_ratio is None else f"{review.imbalance_ratio:.1f} : 1",
    )
    if review.multilabel is not None:
        draw_stats(review.multilabel)

    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown("**Per label**")
        table = pd.DataFrame(
            [
                {
                    "label": label,
                    "training": review.train_counts.get(label, 0),
                    "validation": review.valid_counts.get(label, 0),
                }
                for label in dict.fromkeys([*review.train_counts, *review.valid_counts])
            ],
            columns=["label", "training", "validation"],
        )
        st.dataframe(table, hide_index=True)
        if review.multilabel is not None and review.valid_source == "split":
            st.caption(
                f"The validation rows of the split a run with seed {review.seed} holds out (the "
                "Train page's seed; another seed holds out other rows)."
            )
        for name, stats in (("training", review.train_tokens), ("validation", review.valid_tokens)):
            if stats is not None:
                st.caption(
                    f"Tokens ({name}): mean {stats.mean:.0f}, median {stats.median:.0f}, "
                    f"95th percentile {stats.p95:.0f}, longest {stats.max}; "
                    f"{stats.truncated} over the model's {stats.max_tokens}."
                )
    with right:
        st.markdown("**Findings**")
        if not review.findings:
            st.success("No problems found.", icon=":material/check_circle:")
        for i, finding in enumerate(review.findings):
            where = ""
            if finding.split == "valid":
                where = " (validation file)" if review.valid_source == "file" else " (validation)"
            box = SEVERITY_BOX[finding.severity]
            box(
                f"**{finding.severity.capitalize()}{where}:** {md(finding.message)}",
                icon=SEVERITY_ICON[finding.severity],
            )
            if finding.rows:
                data = valid if finding.split == "valid" and valid is not None else train
                with st.expander(f"The {len(finding.rows)} rows concerned"):
                    show_table(rows_frame(data, finding.rows, limit=ROWS_SHOWN))
                    if len(finding.rows) > ROWS_SHOWN:
                        st.caption(f"First {ROWS_SHOWN} shown.")

    if review.cleaning is not None:
        st.markdown("**Cleaning: changed texts**")
        changes = [("training", c) for c in review.changes]
        changes += [("validation", c) for c in review.valid_changes]
        if not changes:
            st.caption("The cleaning rules change no text.")
        else:
            st.caption(f"{len(changes)} texts change ({', '.join(review.cleaning.rules)}).")
            frame = pd.DataFrame(
                [
                    {"file": f, "row": c.row, "before": c.before, "after": c.after}
                    for f, c in changes[:ROWS_SHOWN]
                ],
                columns=["file", "row", "before", "after"],
            )
            st.dataframe(frame, hide_index=True, height=min(400, 38 + 35 * len(frame)))

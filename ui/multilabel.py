"""Multi-label widgets shared by the pages: the "several labels per row" choice under an upload,
the review's multi-label figures, and a result's labels as chips."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core.data.multilabel import SEPARATOR, looks_multi_label
from core.data.table import Table
from core.quality.multilabel import MultiLabelStats
from ui.widgets import md


def multilabel_options(
    which: str, table: Table, text: str | None, label: str | None
) -> tuple[bool, str]:
    """Whether the file is read with several labels per row, and their separator. Offered
    when the label column looks multi-label (lists, or cells with the separator); ticked
    from the start for lists."""
    key, sep_key = f"{which}_multi_label", f"{which}_separator"
    separator = st.session_state.get(sep_key) or SEPARATOR
    hint = looks_multi_label(table, text, label, separator)
    if hint is None and not st.session_state.get(key):
        return False, separator
    if key not in st.session_state:
        st.session_state[key] = hint is not None and "list" in hint
    if hint is not None:
        st.caption(f"This file looks multi-label: {md(hint)}.")
    left, right = st.columns(2)
    with left:
        multi = st.checkbox(
            "Several labels per row",
            key=key,
            help="Multi-label: a text can carry several labels (or none), given as a JSON "
            f"list or joined in one cell ('billing{SEPARATOR}urgent'). The classifier then "
            "gives every label its own confidence and keeps those above a threshold per label.",
        )
    if multi and table.format not in ("jsonl", "json") and hint is not None and "list" not in hint:
        with right:
            st.text_input(
                "Label separator",
                value=SEPARATOR,
                key=sep_key,
                max_chars=1,
                help='A label that contains it is written in double quotes: "R|B"|jazz.',
            )
    return bool(multi), st.session_state.get(sep_key) or SEPARATOR


def draw_stats(stats: MultiLabelStats) -> None:
    """The review's multi-label figures: labels per row and the pairs given together most."""
    c1, c2, c3 = st.columns(3)
    c1.metric("Labels per row (mean / max)", f"{stats.mean_labels:.2f} / {stats.max_labels}")
    c2.metric("Rows with 2+ labels", stats.multi_rows)
    c3.metric("Rows with no label", len(stats.no_label_rows))
    if stats.pairs:
        st.markdown("**Labels given together most**")
        st.dataframe(
            pd.DataFrame(
                [{"labels": f"{p.first} + {p.second}", "rows": p.rows} for p in stats.pairs],
                columns=["labels", "rows"],
            ),
            hide_index=True,
        )


def label_chips(labels: Sequence[str], confidences: Sequence[float], key: str) -> None:
    """A multi-label result: each chosen label as a chip with its confidence (escaped: labels
    come from the user's file and are never read as Markdown or HTML)."""
    if not labels:
        st.caption("No label is above its threshold.")
        return
    chips = [f"{label} · {p:.0%}" for label, p in zip(labels, confidences, strict=True)]
    st.pills(
        "Labels",
        chips,
        selection_mode="multi",
        default=chips,
        format_func=md,
        key=key,
        disabled=True,
        label_visibility="collapsed",
    )

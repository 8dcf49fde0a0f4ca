"""Embedtune's Streamlit app: the router over the pages, and the sidebar every page shares."""

from __future__ import annotations

import streamlit as st

import core  # noqa: F401  (sets the offline environment before any model library loads)
from core.errors import EmbedtuneError
from core.runs.matching import trained_on
from core.runs.sharing import DemoSettings
from core.runs.store import RunRecord
from ui import loaders, state
from ui.widgets import (
    DASHBOARD_PAGE,
    DATA_PAGE,
    LABEL_PAGE,
    METRICS_PAGE,
    PLAYGROUND_PAGE,
    SIDEBAR_REFRESH_S,
    TRAIN_PAGE,
    live_run,
    md,
    progress_text,
    run_fraction,
    run_heading,
)

st.set_page_config(page_title="Embedtune", page_icon=":material/explore:", layout="wide")

PAGES = [
    st.Page(DATA_PAGE, title="Data", icon=":material/description:", default=True),
    st.Page(LABEL_PAGE, title="Label", icon=":material/label:"),
    st.Page(TRAIN_PAGE, title="Train", icon=":material/model_training:"),
    st.Page(DASHBOARD_PAGE, title="Dashboard", icon=":material/dashboard:"),
    st.Page(METRICS_PAGE, title="Metrics", icon=":material/monitoring:"),
    st.Page(PLAYGROUND_PAGE, title="Playground", icon=":material/science:"),
]
page = st.navigation(PAGES)


def sidebar_run(record: RunRecord) -> None:
    """The active run in the sidebar: its name or id, status and the same line as the pages."""
    st.markdown(run_heading(record).removeprefix("**Run** "))
    if record.active:
        st.progress(run_fraction(record), text=progress_text(record))


def sidebar() -> None:
    """The active data set, the active run with its status, and the compute device."""
    with st.sidebar:
        st.markdown("### :material/explore: Embedtune")
        st.caption("Finetune a sentence-embedding model into a text classifier.")
        demo = DemoSettings.from_env()
        if demo.shared:
            state.workspace_id()  # in the URL from the first page, so a refresh keeps it
            st.caption(
                f"Shared demo: your runs are visible only through this page's link · up to "
                f"{demo.max_rows} rows, {demo.max_jobs} finetune at a time, "
                f"{demo.max_train_s / 60:g} minutes each."
            )

        st.markdown("**Data set**")
        saved = state.dataset()
        if saved is None:
            st.caption("None yet: load one on the Data page.")
        else:
            n_train, n_valid = saved.data.sizes()
            st.caption(
                f"{md(saved.name)} · {n_train} training, {n_valid} validation "
                f"examples · {len(saved.data.classes)} labels"
            )

        st.markdown("**Run**")
        run_id = state.active_run_id()
        record = None
        if run_id is not None:
            try:
                record = state.store().get(run_id)
            except EmbedtuneError:
                state.set_active_run(None)
        if record is None:
            st.caption("None yet: start one on the Train page.")
        else:
            # Redraws itself while the run is active; the whole page once when it ends.
            live_run(record.id, sidebar_run, SIDEBAR_REFRESH_S, watch=lambda r: r.active)
            if saved is not None and not trained_on(record, saved.data):
                # Still the run the Metrics and Playground pages use, but not of the data above.
                st.caption(f"Trained on other data: {md(record.data.train_name or '?')}")

        st.markdown("**Device**")
        try:
            st.caption(md(loaders.device().describe()))
        except Exception as exc:  # noqa: BLE001 - the sidebar must never break a page
            st.caption(f"unknown ({md(type(exc).__name__)})")


sidebar()
page.run()

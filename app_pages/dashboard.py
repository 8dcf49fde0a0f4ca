"""Dashboard page: every run on disk with its status and scores; open, inspect or delete one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import EmbedtuneError
from core.runs.store import BrokenRun, RunRecord
from ui import state
from ui.widgets import (
    METRICS_PAGE,
    PLAYGROUND_PAGE,
    TRAIN_PAGE,
    fmt_duration,
    fmt_time,
    md,
    progress_text,
    show_error,
    status_badge,
    status_text,
)

CONFIRM = "dashboard_confirm_delete"


def table(runs: list[RunRecord | BrokenRun]) -> pd.DataFrame:
    rows = []
    for run in runs:
        if isinstance(run, BrokenRun):
            rows.append({"run": run.id, "status": status_text("broken")})
            continue
        device = (run.device or {}).get("kind", "")
        rows.append(
            {
                "run": run.id,
                "status": status_text(run.status),
                "base model": run.config.base_model,
                "data": run.data.get("train_name") or "",
                "training rows": run.data.get("train_rows"),
                "validation rows": run.data.get("valid_rows"),
                "labels": len(run.data.get("classes", [])),
                "device": device.upper() if device else "",
                "created": fmt_time(run.created_at),
                "duration": fmt_duration(run.duration_s),
                "best F1": run.best_f1,
            }
        )
    columns = [
        "run",
        "status",
        "base model",
        "data",
        "training rows",
        "validation rows",
        "labels",
        "device",
        "created",
        "duration",
        "best F1",
    ]
    return pd.DataFrame(rows, columns=columns)


def delete_controls(run_id: str, deletable: bool) -> None:
    """Delete with a confirmation step; an active run must be cancelled first."""
    if st.session_state.get(CONFIRM) != run_id:
        if st.button(
            "Delete this run", key="delete_run", icon=":material/delete:", disabled=not deletable
        ):
            st.session_state[CONFIRM] = run_id
            st.rerun()
        if not deletable:
            st.caption("Cancel the run before deleting it.")
        return
    st.warning(
        f"Delete run `{run_id}` with its model and logs? This cannot be undone.",
        icon=":material/warning:",
    )
    yes, no = st.columns([1, 6])
    if yes.button("Yes, delete", key="confirm_delete", type="primary"):
        st.session_state.pop(CONFIRM, None)
        try:
            state.store().delete(run_id)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        if state.active_run_id() == run_id:
            state.set_active_run(None)
        st.session_state["dashboard_deleted"] = run_id
        st.rerun()
    if no.button("Keep it", key="keep_run"):
        st.session_state.pop(CONFIRM, None)
        st.rerun()


def details(run: RunRecord | BrokenRun) -> None:
    if isinstance(run, BrokenRun):
        st.error(f"Run `{run.id}` cannot be read: {md(run.reason)}", icon=":material/warning:")
        delete_controls(run.id, True)
        return
    st.markdown(f"**Run `{run.id}`** {status_badge(run.status)}")
    c1, c2, c3 = st.columns(3)
    c1.caption(
        f"Base model: {run.config.base_model} · {run.config.epochs} epochs · "
        f"learning rate {run.config.learning_rate:g} · seed {run.config.seed}"
    )
    c2.caption(
        f"Data: {md(run.data.get('train_name') or 'uploaded file')} · "
        f"{run.data.get('train_rows')} training, {run.data.get('valid_rows')} validation rows"
    )
    c3.caption(
        f"Created {fmt_time(run.created_at)} · "
        f"{'running for' if run.active else 'took'} {fmt_duration(run.duration_s)}"
    )
    if run.active:
        st.progress(min(1.0, run.progress.fraction), text=progress_text(run))
    if run.status == "failed":
        reason = (run.error or {}).get("reason", "unknown reason")
        st.error(f"Failed: {md(reason)}", icon=":material/error:")
        tail = (run.error or {}).get("log_tail") or state.store().log_tail(run.id)
        st.caption("Last lines of the log")
        st.code("\n".join(tail) if tail else "(the log is empty)", language=None)
    if run.note:
        st.info(md(run.note))

    with st.container(horizontal=True):
        if st.button(
            "Open metrics", key="open_metrics", icon=":material/monitoring:", type="primary"
        ):
            state.set_active_run(run.id)
            st.switch_page(METRICS_PAGE, query_params={state.RUN_QUERY: run.id})
        if st.button(
            "Open in Playground",
            key="open_playground",
            icon=":material/science:",
            disabled=run.status != "completed",
        ):
            state.set_active_run(run.id)
            st.switch_page(PLAYGROUND_PAGE, query_params={state.RUN_QUERY: run.id})
        if run.active and st.button(
            "Cancel", key="dashboard_cancel", icon=":material/stop_circle:"
        ):
            state.store().request_cancel(run.id)
            st.toast("Cancelling: the run stops at its next step.")
    delete_controls(run.id, not run.active)


st.title("Dashboard")
deleted = st.session_state.pop("dashboard_deleted", None)
if deleted:
    st.success(f"Deleted run `{deleted}`.", icon=":material/delete:")

store = state.store()
runs = store.list()
if not runs:
    st.info("No finetunes yet. Start one on the Train page.", icon=":material/dashboard:")
    st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/arrow_forward:")
    st.stop()

counts = {status: 0 for status in ("queued", "running", "completed", "failed", "cancelled")}
for run in runs:
    if isinstance(run, RunRecord):
        counts[run.status] += 1
broken = sum(isinstance(run, BrokenRun) for run in runs)
st.caption(
    f"{len(runs)} runs in {md(store.root)} · "
    + " · ".join(f"{n} {status}" for status, n in counts.items() if n)
    + (f" · {broken} broken" if broken else "")
)
st.dataframe(
    table(runs),
    hide_index=True,
    column_config={
        "best F1": st.column_config.NumberColumn("best F1", format="%.3f", width="small"),
        "run": st.column_config.TextColumn("run", width="medium"),
        "data": st.column_config.TextColumn("data", width="medium"),
        "training rows": st.column_config.NumberColumn("training", width="small"),
        "validation rows": st.column_config.NumberColumn("validation", width="small"),
        "labels": st.column_config.NumberColumn("labels", width="small"),
    },
)

ids = [run.id for run in runs]
by_id = {run.id: run for run in runs}
active = state.active_run_id()
st.subheader("Run details")
chosen = st.selectbox(
    "Run",
    ids,
    index=ids.index(active) if active in ids else 0,
    format_func=lambda i: f"{i} · {getattr(by_id[i], 'status', 'broken')}",
    key="dashboard_run",
)
details(by_id[chosen])

"""Dashboard page: every run on disk, live while one trains; name, compare, inspect or delete
runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import EmbedtuneError
from core.runs.store import NAME_MAX, BrokenRun, RunRecord, RunStore
from core.train.metrics import METRIC_TITLES
from core.train.task import gain_intervals, scored_task
from ui import charts, state
from ui.widgets import (
    LABEL_PAGE,
    METRICS_PAGE,
    PLAYGROUND_PAGE,
    TABLE_REFRESH_S,
    TRAIN_PAGE,
    completed_message,
    fmt_duration,
    fmt_time,
    live,
    live_run,
    md,
    plural,
    progress_text,
    run_fraction,
    run_heading,
    show_error,
    status_text,
)

CONFIRM = "dashboard_confirm_delete"
COMPARE = "dashboard_compare"
# The columns that must show in a 1,400 px window, then the rest (narrow, or shown on demand).
COLUMNS = ["status", "run", "data", "labels", "best F1", "test F1", "duration", "progress"]
COLUMNS += ["base model", "rows", "created", "id"]


def score(value: float | None, run: RunRecord | None = None) -> str:
    """A score for the table as text: '0.855'; 'running' while the run has none yet; '—' when
    it has none (never 'None')."""
    if value is not None:
        return f"{value:.3f}"
    return "running" if run is not None and run.active else "—"


def best_f1(run: RunRecord) -> str:
    """The run's validation F1 for the table; a multi-label run's headline is micro-F1, so its
    macro-F1 (every label alike) stands beside it."""
    final = run.final
    if final is None or "macro_f1" not in scored_task(final).headline:
        return score(run.best_f1, run)
    return f"{final.metrics.f1:.3f} · macro {final.metrics.macro_f1:.3f}"


def table(runs: list[RunRecord | BrokenRun], store: RunStore) -> pd.DataFrame:
    """One row per run: what a user scans for first, then the details."""
    rows: list[dict[str, object]] = []
    for run in runs:
        if isinstance(run, BrokenRun):
            blank: dict[str, object] = dict.fromkeys(COLUMNS, "")
            blank |= {"labels": None, "best F1": "—", "test F1": "—"}
            rows.append(blank | {"run": run.id, "id": run.id, "status": status_text("broken")})
            continue
        rows.append(
            {
                "status": status_text(run.status),
                "run": run.title,
                "data": run.data.train_name or "",
                "labels": len(run.data.classes),
                "best F1": best_f1(run),
                "test F1": score(run.tests[0].f1 if run.tests else None),
                "duration": fmt_duration(run.duration_s),
                "progress": progress_text(run, store, brief=True) if run.active else "",
                "base model": run.config.base_model,
                "rows": f"{run.data.train_rows} / {run.data.valid_rows}",
                "created": fmt_time(run.created_at),
                "id": run.id,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


# Pixel widths that fit the first eight columns in a 1,400 px window with the sidebar open.
COLUMN_CONFIG = {
    "status": st.column_config.TextColumn("status", width=80),
    "run": st.column_config.TextColumn("run", width=160, help="its name, else its id"),
    "data": st.column_config.TextColumn("data", width=120),
    "labels": st.column_config.NumberColumn("labels", width=55),
    "best F1": st.column_config.TextColumn(
        "best F1",
        width=120,
        help="on the validation split: macro-F1, or the positive label's F1 for two labels; a "
        "multi-label run's micro-F1 with its macro-F1 beside it",
    ),
    "test F1": st.column_config.TextColumn(
        "test F1", width=65, help="on the newest test file scored"
    ),
    "duration": st.column_config.TextColumn("duration", width=80),
    "progress": st.column_config.TextColumn("progress", width=265),
    "base model": st.column_config.TextColumn("model", width="small"),
    "rows": st.column_config.TextColumn("rows", width="small", help="training / validation rows"),
    "created": st.column_config.TextColumn("created", width="small"),
    "id": st.column_config.TextColumn("id", width="small"),
}


def runs_table(store: RunStore, active: frozenset[str]) -> None:
    """The runs table; redrawn every TABLE_REFRESH_S while a run is active, the whole page once
    the set of active runs changes (a run ended or another started)."""
    runs = store.list()
    st.dataframe(table(runs, store), hide_index=True, column_config=COLUMN_CONFIG)
    now = frozenset(r.id for r in runs if isinstance(r, RunRecord) and r.active)
    if now != active:
        st.rerun(scope="app")


def pick_label(run: RunRecord | BrokenRun) -> str:
    """A run in the details picker: 'name · id · status' (plain text)."""
    name = getattr(run, "name", "")
    return " · ".join([name, run.id, run.status] if name else [run.id, run.status])


def series_label(run: RunRecord) -> str:
    """A run in a chart's legend: its name and id, or its id."""
    return f"{run.name} ({run.id})" if run.name else run.id


def interval(bounds: tuple[float, float] | None, signed: bool = False) -> str:
    """'[0.712, 0.834]' ('' when the run kept none)."""
    if not bounds:
        return ""
    spec = "+.3f" if signed else ".3f"
    return f"[{bounds[0]:{spec}}, {bounds[1]:{spec}}]"


def compare_table(runs: list[RunRecord]) -> pd.DataFrame:
    """The runs' final validation scores side by side: Macro-F1 (the curves' score) with its
    interval, the base model's and the gain with its paired interval, then the other scores."""
    rows = []
    for run in runs:
        final, base = run.final, run.baseline
        gains = gain_intervals(final, base) if final and base else {}
        row: dict[str, object] = {
            "run": series_label(run),
            "Macro-F1": final.metrics.macro_f1 if final else None,
            "Macro-F1 95 % interval": interval(final.intervals.get("macro_f1") if final else None),
            "base model Macro-F1": base.metrics.macro_f1 if base else None,
            "gain in Macro-F1": (
                final.metrics.macro_f1 - base.metrics.macro_f1 if final and base else None
            ),
            "gain 95 % interval": interval(gains.get("macro_f1"), signed=True),
        }
        for name, title in METRIC_TITLES.items():
            if name != "macro_f1":
                row[title] = getattr(final.metrics, name) if final else None
        row["data"] = run.data.train_name
        row["validation rows"] = run.data.valid_rows
        row["evaluations"] = len(run.history)
        row["duration"] = fmt_duration(run.duration_s)
        rows.append(row)
    return pd.DataFrame(rows)


def compare(runs: list[RunRecord]) -> None:
    """Pick two or more runs: their validation curves overlaid and their scores in one table."""
    st.subheader("Compare runs")
    with_curves = [r for r in runs if r.history]
    if len(with_curves) < 2:
        st.caption("Two runs with validation scores can be compared here.")
        return
    by_id = {r.id: r for r in with_curves}
    chosen = st.multiselect(
        "Runs to compare",
        list(by_id),
        key=COMPARE,
        format_func=lambda i: f"{by_id[i].name} · {i}" if by_id[i].name else i,
        placeholder="Choose two or more runs",
    )
    picked = [by_id[i] for i in chosen if i in by_id]
    if len(picked) < 2:
        st.caption("Choose at least two runs to see their curves and scores side by side.")
        return
    st.altair_chart(
        charts.compare_history({series_label(r): r.history for r in picked}, "macro_f1"),
        width="stretch",
    )
    st.dataframe(
        compare_table(picked),
        hide_index=True,
        column_config={
            title: st.column_config.NumberColumn(title, format="%.3f")
            for title in [*METRIC_TITLES.values(), "base model Macro-F1"]
        }
        | {"gain in Macro-F1": st.column_config.NumberColumn(format="%+.3f")},
    )
    if any(r.data.multi_label for r in picked):
        st.caption(
            "A multi-label run's Accuracy is Hamming accuracy and its F1, precision and recall "
            "are micro-averaged; its Macro-F1 counts every label alike."
        )
    st.caption(
        "Validation scores with 95 % bootstrap intervals (the gain's is paired, on the same rows). "
        "The validation split also chose each run's checkpoint, so they lean optimistic; a test "
        "file on the Metrics page gives an unbiased figure. Runs on different data are not "
        "directly comparable."
    )


def rename(run: RunRecord) -> None:
    """A field to name the run (its id stays)."""
    with st.form(key=f"rename_form_{run.id}", border=False):
        c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
        name = c1.text_input(
            "Name",
            value=run.name,
            max_chars=NAME_MAX,
            key=f"rename_{run.id}",
            placeholder="e.g. emotion, 8 epochs",
            help="A label for the tables and pickers; the run keeps its id.",
        )
        saved = c2.form_submit_button("Save name", icon=":material/edit:", key="rename_save")
    if saved:
        try:
            state.store().rename(run.id, name)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        st.session_state["dashboard_renamed"] = run.id
        st.rerun()


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


def status(run: RunRecord) -> None:
    """The run's heading, status and progress: live while it is active."""
    st.markdown(run_heading(run))
    if run.active:
        st.progress(run_fraction(run), text=progress_text(run))
    st.caption(f"{'Running for' if run.active else 'Took'} {fmt_duration(run.duration_s)}")


def details(run: RunRecord | BrokenRun) -> None:
    if isinstance(run, BrokenRun):
        st.error(f"Run `{run.id}` cannot be read: {md(run.reason)}", icon=":material/warning:")
        delete_controls(run.id, True)
        return
    live_run(run.id, status)
    c1, c2, c3 = st.columns(3)
    c1.caption(
        f"Base model: {run.config.base_model} · {run.config.epochs} epochs · "
        f"learning rate {run.config.learning_rate:g} · seed {run.config.seed}"
    )
    c2.caption(
        f"Data: {md(run.data.train_name or 'uploaded file')} · "
        f"{run.data.train_rows} training, {run.data.valid_rows} validation rows"
    )
    c3.caption(f"Created {fmt_time(run.created_at)}")
    rename(run)
    if run.status == "failed":
        reason = (run.error or {}).get("reason", "unknown reason")
        st.error(f"Failed: {md(reason)}", icon=":material/error:")
        tail = (run.error or {}).get("log_tail") or state.store().log_tail(run.id)
        st.caption("Last lines of the log")
        st.code("\n".join(tail) if tail else "(the log is empty)", language=None)
    if run.status == "completed":
        completed_message(run, lead=False)  # the outcome: gain, interval, labels that fell
    elif run.note:
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
        if run.status == "completed" and not run.data.multi_label:
            st.page_link(
                LABEL_PAGE,
                label="Label more where it is unsure",
                icon=":material/label:",
                query_params={"label_model": run.id},
            )
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

renamed = st.session_state.pop("dashboard_renamed", None)
if renamed:
    st.toast(f"Renamed run {renamed}.", icon=":material/edit:")
records = [r for r in runs if isinstance(r, RunRecord)]
counts = {status: 0 for status in ("queued", "running", "completed", "failed", "cancelled")}
for run in records:
    counts[run.status] += 1
broken = len(runs) - len(records)
st.caption(
    f"{plural(len(runs), 'run')} in {md(store.root)} · "
    + " · ".join(f"{n} {status}" for status, n in counts.items() if n)
    + (f" · {broken} broken" if broken else "")
)
active = frozenset(r.id for r in records if r.active)
live(lambda: runs_table(store, active), bool(active), TABLE_REFRESH_S)

compare(records)

ids = [run.id for run in runs]
by_id = {run.id: run for run in runs}
current = state.active_run_id()
st.subheader("Run details")
chosen = st.selectbox(
    "Run",
    ids,
    index=ids.index(current) if current in ids else 0,
    format_func=lambda i: pick_label(by_id[i]),
    key="dashboard_run",
)
details(by_id[chosen])

"""Train page: choose the base model and settings, start the finetune, follow it live."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from core.config import TrainConfig, config_help, page_settings
from core.errors import EmbedtuneError
from core.model.catalogue import CATALOGUE
from core.runs.estimate import estimate
from core.runs.jobs import submit
from core.runs.matching import runs_of
from core.runs.sharing import DemoSettings, check_submission
from core.runs.status import about, rough
from core.runs.store import RunRecord, compute_run_id
from core.train.label_names import finetune_rows
from core.train.task import scored_task
from ui import loaders, state
from ui.widgets import (
    DASHBOARD_PAGE,
    DATA_PAGE,
    METRICS_PAGE,
    PLAYGROUND_PAGE,
    completed_message,
    fmt_duration,
    live_run,
    md,
    progress_text,
    run_fraction,
    run_heading,
    show_error,
)

DEFAULTS = TrainConfig()
HELP = config_help()


def model_line(key: str) -> str:
    spec = CATALOGUE[key]
    return (
        f"{spec.name} · {spec.parameters / 1e6:.0f}M parameters · {spec.disk_mb} MB · "
        f"{spec.embedding_dim}-dimensional vectors · up to {spec.max_seq_length} tokens"
    )


def choose_model() -> str:
    infos = {m.key: m for m in loaders.models()}
    key = st.radio(
        "Base model",
        list(CATALOGUE),
        format_func=lambda k: f"{k.capitalize()} — {CATALOGUE[k].name}",
        key="train_model",
        horizontal=True,
        help=HELP.get("base_model"),
    )
    spec = CATALOGUE[key]
    st.caption(model_line(key))
    info = infos.get(key)
    if info is not None and not info.installed:
        st.warning(
            "This base model is not installed. Install it with:", icon=":material/inventory_2:"
        )
        st.code(info.install_command or spec.install_command, language="bash")
    return key


def setting_input(f: dataclasses.Field) -> Any:
    """One setting's input, built from its TrainConfig metadata: label, help, range, choices."""
    meta, default, key = f.metadata, getattr(DEFAULTS, f.name), f"cfg_{f.name}"
    if "choices" in meta:
        choices = list(meta["choices"])
        return st.selectbox(
            meta["label"], choices, choices.index(default), key=key, help=meta["help"]
        )
    if isinstance(default, bool):
        return st.checkbox(meta["label"], default, key=key, help=meta["help"])
    return st.number_input(
        meta["label"],
        min_value=meta.get("min"),
        max_value=meta.get("max"),
        value=default,
        step=meta.get("step"),
        format=meta.get("format"),
        key=key,
        help=meta["help"],
    )


def settings() -> dict:
    """The advanced settings: every TrainConfig setting with a page label, its default filled in
    and its help beside it."""
    shown = page_settings()
    values: dict = {}
    with st.expander("Advanced settings"):
        st.caption(
            "The defaults come from the benchmarks (docs/BENCHMARKS.md); hover the ? beside a "
            "setting for why."
        )
        # Three columns filled top to bottom, the first ones a setting longer when uneven.
        sizes = [len(shown) // 3 + (c < len(shown) % 3) for c in range(3)]
        start = 0
        for column, size in zip(st.columns(3), sizes, strict=True):
            with column:
                for f in shown[start : start + size]:
                    values[f.name] = setting_input(f)
            start += size
    return values


def estimate_caption(config: TrainConfig, dataset) -> str:
    """'Estimated time: about 3 min (2–5 min) …': from the throughput finished runs measured
    on this machine (or the catalogue's, said so), with the wait behind the active runs."""
    try:
        kind = loaders.device().kind
    except Exception:  # noqa: BLE001 - an estimate must never break the page
        kind = "cpu"
    run_id = compute_run_id(config, dataset)
    rows = finetune_rows(len(dataset.train), dataset.classes, config.label_names)
    guess = estimate(
        config,
        rows,
        len(dataset.valid),
        state.store(),
        kind,
        run_id,
        labels=len(dataset.classes),
        multi_label=dataset.train.multi_label,
    )
    text = (
        f"Estimated time: {about(guess.seconds)} ({rough(guess.low)} to {rough(guess.high)}), "
        f"{guess.source}"
    )
    if guess.ahead:
        runs = "run" if len(guess.ahead) == 1 else "runs"
        text += (
            f"; of it {about(guess.queue_s)} in the queue behind {len(guess.ahead)} {runs} "
            f"({', '.join(guess.ahead)})"
        )
    return text + ". Early stopping may end it sooner."


def start(config: TrainConfig, dataset) -> None:
    try:
        store = state.store()
        check_submission(DemoSettings.from_env(), store, config, dataset)
        submission = submit(config, dataset, store)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    state.set_active_run(submission.record.id)
    st.session_state[state.SEEN_STATUS] = submission.record.status
    st.session_state["train_message"] = (submission.reused, submission.message)
    st.rerun()  # the sidebar shows the new run


def scores(record: RunRecord) -> None:
    """The four headline scores with their gain over the base model: while the run trains,
    its latest validation step; once it has ended, the final evaluation of the model it kept
    (the figures the outcome message and the Metrics page give; the last step's can differ,
    e.g. when an earlier checkpoint was kept or the head refitted)."""
    latest = record.history[-1] if record.history else None
    if not record.active and record.final is not None:
        m = record.final.metrics.to_dict()
        base = record.baseline.metrics.to_dict() if record.baseline is not None else None
        st.caption("Final validation scores of the model this run kept")
    elif latest is not None:
        m, at_start = latest["metrics"], latest["step"] == 0
        base = None if at_start else record.history[0]["metrics"]
        where = "baseline (base model)" if at_start else f"step {latest['step']}"
        st.caption(f"Latest validation scores: {where}")
    else:
        return
    task = scored_task(m)
    for col, name in zip(st.columns(len(task.headline)), task.headline, strict=True):
        delta = None if base is None else f"{m[name] - base[name]:+.3f}"
        col.metric(task.titles[name], f"{m[name]:.3f}", delta)


def run_status(record: RunRecord) -> None:
    """The run's heading, progress and time, with the Cancel button: the live part."""
    st.markdown(run_heading(record))
    if record.active:
        st.progress(run_fraction(record), text=progress_text(record))
    if record.duration_s is not None:
        st.caption(
            f"Running for {fmt_duration(record.duration_s)}"
            if record.active
            else f"Took {fmt_duration(record.duration_s)}"
        )
    if record.active and st.button("Cancel", key="cancel_run", icon=":material/stop_circle:"):
        state.store().request_cancel(record.id)
        st.toast("Cancelling: the run stops at its next step.")


def run_result(record: RunRecord) -> None:
    """Validation scores and how the run ended: drawn again only when they change."""
    scores(record)
    if record.status == "completed":
        completed_message(record)
        c1, c2 = st.columns(2)
        c1.page_link(METRICS_PAGE, label="See the metrics", icon=":material/monitoring:")
        c2.page_link(PLAYGROUND_PAGE, label="Open the Playground", icon=":material/science:")
    elif record.status == "failed":
        reason = (record.error or {}).get("reason", "unknown reason")
        st.error(f"The run failed: {md(reason)}", icon=":material/error:")
        tail = (record.error or {}).get("log_tail") or state.store().log_tail(record.id)
        if tail:
            st.code("\n".join(tail), language=None)
    elif record.status == "cancelled":
        st.info("The run was cancelled. Start it again to retry.", icon=":material/stop_circle:")


def follow(run_id: str) -> None:
    """Draw the run: its status line live while it trains, the rest again at each evaluation."""

    def remember_status(record: RunRecord) -> None:
        st.session_state[state.SEEN_STATUS] = record.status

    record = live_run(run_id, run_status, on_end=remember_status)
    if record is not None:
        run_result(record)


st.title("Train")
saved = state.dataset()
if saved is None:
    st.info("No data set yet: upload and review one first.", icon=":material/description:")
    st.page_link(DATA_PAGE, label="Go to the Data page", icon=":material/arrow_forward:")
else:
    n_train, n_valid = saved.data.sizes()
    st.markdown(
        f"**Data:** {md(saved.name)} · {n_train} training and {n_valid} "
        f"validation examples · {len(saved.data.classes)} labels"
    )
    key = choose_model()
    values = settings()
    # The run's seed also chooses the validation rows, as on the command line.
    dataset = saved.data.split(values["seed"])
    cleaning = saved.cleaning
    installed = {m.key: m.installed for m in loaders.models()}.get(key, False)
    try:
        config = TrainConfig(base_model=key, **values).replace(cleaning=cleaning)
        st.caption(estimate_caption(config, dataset))
    except EmbedtuneError:
        pass  # settings out of range: the Start button says why
    if st.button(
        "Start finetuning",
        type="primary",
        key="start_training",
        disabled=not installed,
        icon=":material/rocket_launch:",
    ):
        try:
            config = TrainConfig(base_model=key, **values)
            config = config.replace(cleaning=cleaning)
        except EmbedtuneError as exc:
            show_error(exc)
        else:
            start(config, dataset)

run_id = state.active_run_id()
if saved is not None:
    # Only a run of the data loaded: the active one if it is, else the newest active or
    # finished run of these rows (whatever the seed split them into), else none (never the
    # previous data's run).
    own = runs_of(saved.data, state.store())
    if run_id not in {r.id for r in own}:
        run_id = next((r.id for r in own if r.active), own[0].id if own else None)
        if run_id is not None:
            state.set_active_run(run_id)
            st.rerun()  # the sidebar, drawn before this page, shows the new active run
elif run_id is None:
    # After a restart with no run in the URL: show a finetune still going on, if any.
    active = [r for r in state.store().list() if isinstance(r, RunRecord) and r.active]
    if active:
        state.set_active_run(active[0].id)
        st.rerun()  # the sidebar too
message = st.session_state.pop("train_message", None)
if message is not None:
    reused, text = message
    (st.info if reused else st.success)(
        md(text), icon=":material/recycling:" if reused else ":material/rocket_launch:"
    )

if run_id is not None:
    st.divider()
    follow(run_id)
    st.page_link(DASHBOARD_PAGE, label="All runs are on the Dashboard", icon=":material/dashboard:")

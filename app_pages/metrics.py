"""Metrics page: a run's scores over training against the baseline, its confusion matrix and
per-label table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.runs.store import RunRecord
from core.train.metrics import HEADLINE, METRIC_TITLES
from core.train.multilabel import METRIC_TITLES as MULTILABEL_TITLES
from ui import charts, state
from ui.widgets import (
    PLAYGROUND_PAGE,
    TRAIN_PAGE,
    fmt_duration,
    live_run,
    md,
    progress_text,
    run_fraction,
    run_title,
    status_badge,
)

REFRESH_S = 3.0


def headline(record: RunRecord) -> None:
    final, baseline = record.final, record.baseline
    assert final is not None
    metrics = final.metrics
    gains = metrics.gain_over(baseline.metrics) if baseline is not None else {}
    titles = MULTILABEL_TITLES if metrics.average == "micro" else METRIC_TITLES
    if metrics.average == "micro":
        st.caption(
            "Multi-label: Hamming accuracy (the share of right yes/no answers over every text "
            "and label), micro-averaged F1, precision and recall, and subset accuracy (texts "
            f"with exactly the right labels); validation set of {final.n} examples; deltas are "
            "the gain over the base model."
        )
    elif metrics.average == "binary":
        st.caption(
            f"F1, precision and recall of the label {md(repr(metrics.positive_label))}; "
            f"validation set of {final.n} examples; deltas are the gain over the base model."
        )
    else:
        st.caption(
            f"F1, precision and recall averaged over the labels (macro); validation set of "
            f"{final.n} examples; deltas are the gain over the base model."
        )
    for col, (name, title) in zip(st.columns(len(titles)), titles.items(), strict=True):
        gain = gains.get(name)
        before = None if baseline is None else getattr(baseline.metrics, name)
        col.metric(
            title,
            f"{getattr(metrics, name):.3f}",
            None if gain is None else f"{gain:+.3f}",
            border=True,
            help=None
            if before is None
            else f"Base model with a logistic-regression head: {before:.3f}",
        )


def curves(record: RunRecord) -> None:
    if not record.history:
        st.caption("No evaluation yet: the first one is the baseline, at step 0.")
        return
    st.markdown("**Validation scores over training** (dashed: the base model's baseline)")
    names = list(HEADLINE)
    for row in (names[:2], names[2:]):
        for col, name in zip(st.columns(2), row, strict=True):
            with col:
                st.altair_chart(charts.metric_history(record.history, name), width="stretch")


def matrices(record: RunRecord) -> None:
    if record.final is None:
        return
    # Multi-label runs have no confusion matrix: each label is its own yes / no (per label below).
    if record.final.confusion_matrix:
        st.markdown("**Confusion matrix** (validation set; rows: true label, columns: predicted)")
        left, right = st.columns(2)
        with left:
            st.altair_chart(charts.confusion_matrix(record.final, "Finetuned"), width="stretch")
        if record.baseline is not None:
            with right:
                st.altair_chart(
                    charts.confusion_matrix(record.baseline, "Base model (baseline)"),
                    width="stretch",
                )
    st.markdown("**Per label**")
    base = {c.label: c for c in record.baseline.per_class} if record.baseline else {}
    rows = []
    for c in record.final.per_class:
        b = base.get(c.label)
        rows.append(
            {
                "label": c.label,
                "precision": c.precision,
                "recall": c.recall,
                "F1": c.f1,
                "baseline F1": b.f1 if b else None,
                "gain": c.f1 - b.f1 if b else None,
                "support": c.support,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["label", "precision", "recall", "F1", "baseline F1", "gain", "support"]
    )
    number = st.column_config.NumberColumn
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "precision": number(format="%.3f"),
            "recall": number(format="%.3f"),
            "F1": number(format="%.3f"),
            "baseline F1": number(format="%.3f"),
            "gain": number(format="%+.3f"),
        },
    )


def draw_record(current: RunRecord) -> None:
    c = current.config
    st.markdown(f"**Run `{current.id}`** {status_badge(current.status)}")
    st.caption(
        f"Base model {c.base_model} · {current.data.get('train_rows')} training, "
        f"{current.data.get('valid_rows')} validation examples · "
        f"{len(current.data.get('classes', []))} labels · {c.epochs} epochs · "
        f"{'running for' if current.active else 'took'} {fmt_duration(current.duration_s)}"
    )
    if current.active:
        st.progress(run_fraction(current), text=progress_text(current))
    if current.status == "completed":
        st.success(
            "Finetune completed. Now you can test your model in the Playground.",
            icon=":material/celebration:",
        )
        st.page_link(PLAYGROUND_PAGE, label="Open the Playground", icon=":material/science:")
        if current.finetune_kept is False and current.note:
            st.info(md(current.note), icon=":material/info:")
    elif current.status == "failed":
        reason = (current.error or {}).get("reason", "unknown reason")
        st.error(f"The run failed: {md(reason)}", icon=":material/error:")
    elif current.status == "cancelled":
        st.info("The run was cancelled; the scores below are those measured before.")
    if current.final is not None:
        headline(current)
    curves(current)
    matrices(current)


def draw(run_id: str) -> None:
    live_run(run_id, draw_record, REFRESH_S)


st.title("Metrics")
runs = [r for r in state.store().list() if isinstance(r, RunRecord)]
if not runs:
    st.info("No runs yet: start a finetune on the Train page.", icon=":material/monitoring:")
    st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/arrow_forward:")
    st.stop()

ids = [r.id for r in runs]
titles = {r.id: run_title(r) for r in runs}
active = state.active_run_id()
chosen = st.selectbox(
    "Run",
    ids,
    index=ids.index(active) if active in ids else 0,
    format_func=titles.__getitem__,
    key="metrics_run",
)
if chosen != active:
    state.set_active_run(chosen)
draw(chosen)

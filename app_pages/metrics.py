"""Metrics page: a run's scores against its base model with their uncertainty, its curves,
confusion matrices, per-label table and errors, and its evaluation on a test file."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.data.files import EXTENSIONS, read_table
from core.data.multilabel import labeled_multi
from core.data.table import HeaderRowError, Table
from core.downloads import csv_bytes
from core.errors import EmbedtuneError
from core.runs.evaluate import TestResult, evaluate_run, load_test, test_key
from core.runs.store import RunRecord
from core.train.metrics import (
    FEW_EXAMPLES,
    HEADLINE,
    Evaluation,
    describe_unseen,
    label_text,
    mistakes,
    unseen_labels,
)
from core.train.outcome import fmt_interval, judge
from core.train.task import gain_intervals, scored_task
from ui import charts, state
from ui.many_labels import MANY_LABELS, confused_pairs, matrix_labels, per_label_table
from ui.widgets import (
    PLAYGROUND_PAGE,
    TRAIN_PAGE,
    completed_message,
    fmt_duration,
    fmt_time,
    live_run,
    md,
    progress_text,
    run_fraction,
    run_title,
    show_error,
    status_badge,
)

ERRORS_SHOWN = 500
SHOWN_UNSEEN = 5  # labels the run never learnt, named in the result (the rest counted)
PAIRS_SHOWN = 15
# Up to this many labels the two confusion matrices fit side by side with their counts apart.
SIDE_BY_SIDE = 12
# The errors table's columns: the short ones first, so the confidence is on screen at 1,400 px.
ERROR_COLUMNS = ["row", "true label", "predicted label", "confidence", "text"]


def label_columns(*names: str) -> dict:
    """Table columns of labels: medium width, so that long label names stay readable."""
    return {name: st.column_config.TextColumn(name, width="medium") for name in names}


def scope(evaluation: Evaluation, where: str) -> str:
    what = md(scored_task(evaluation).scope(evaluation.metrics))
    return f"{what}; {where} of {evaluation.n} examples; [95 % bootstrap interval]"


def tiles(final: Evaluation, baseline: Evaluation | None) -> None:
    """The headline scores, each with its interval, and the gain with its paired one."""
    gains = final.metrics.gain_over(baseline.metrics) if baseline is not None else {}
    gains_within = gain_intervals(final, baseline) if baseline is not None else {}
    task = scored_task(final)
    for col, name in zip(st.columns(len(task.headline)), task.headline, strict=True):
        value = getattr(final.metrics, name)
        gain = gains.get(name)
        before = None if baseline is None else getattr(baseline.metrics, name)
        col.metric(
            task.titles[name],
            f"{value:.3f}",
            None if gain is None else f"{gain:+.3f}",
            border=True,
            help=None
            if before is None
            else f"Base model with a logistic-regression head: {before:.3f}",
        )
        lines = []
        if name in final.intervals:
            lines.append(f"[{fmt_interval(final.intervals[name])}]")
        if name in gains_within:
            lines.append(f"gain [{fmt_interval(gains_within[name], signed=True)}]")
        if lines:
            col.caption(" · ".join(lines))


def few_examples_note(evaluation: Evaluation, where: str) -> None:
    few = evaluation.few_examples()
    if few:
        support = {c.label: c.support for c in evaluation.per_class}
        named = ", ".join(f"{md(repr(label))} ({support[label]})" for label in few[:10])
        more = f" and {len(few) - 10} more" if len(few) > 10 else ""
        st.caption(
            f":material/warning: Fewer than {FEW_EXAMPLES} {where} examples: {named}{more}. Their "
            "per-label scores rest on a handful of texts; one text moves them a lot."
        )


def headline(record: RunRecord) -> None:
    final, baseline = record.final, record.baseline
    assert final is not None
    st.markdown("**Validation**")
    st.caption(
        scope(final, "validation split")
        + ". The validation split also chose the checkpoint, so these figures lean optimistic; "
        "evaluate on a test file (below) for an unbiased figure."
    )
    tiles(final, baseline)
    few_examples_note(final, "validation")


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


def per_label(final: Evaluation, baseline: Evaluation | None) -> None:
    st.markdown(f"**Per label** ({len(final.per_class)} labels, worst F1 first)")
    number = st.column_config.NumberColumn
    st.dataframe(
        per_label_table(final, baseline),
        hide_index=True,
        column_config={
            **label_columns("label"),
            "precision": number(format="%.3f"),
            "recall": number(format="%.3f"),
            "F1": number(format="%.3f"),
            "baseline F1": number(format="%.3f"),
            "gain": number(format="%+.3f"),
            "support": number(help="texts of this label in the evaluation"),
        },
    )


def confusion_charts(final: Evaluation, baseline: Evaluation | None, labels=None) -> None:
    """The finetuned and base model's matrices: side by side when small, else one above the
    other so that every column keeps room for its count."""
    drawn = [charts.confusion_matrix(final, "Finetuned", labels)]
    if baseline is not None:
        drawn.append(charts.confusion_matrix(baseline, "Base model", labels))
    shown = len(labels if labels is not None else final.labels)
    columns = st.columns(2) if shown <= SIDE_BY_SIDE else [st.container(), st.container()]
    for column, chart in zip(columns, drawn, strict=False):
        with column:
            st.altair_chart(chart, width="stretch")


def confusions(final: Evaluation, baseline: Evaluation | None, where: str) -> None:
    """Too many labels for one readable matrix: the most-confused pairs as a table, and the
    matrix of the labels in the worst confusions."""
    pairs = confused_pairs(final, baseline)
    errors = int(pairs["texts"].sum())
    st.markdown(
        f"**Most confused labels** ({where}; {errors} of {final.n} texts in "
        f"{len(pairs)} pairs of labels)"
    )
    if pairs.empty:
        st.caption("None: every text got its label.")
        return
    st.dataframe(
        pairs.head(PAIRS_SHOWN),
        hide_index=True,
        column_config={
            **label_columns("true label", "predicted as"),
            "texts": st.column_config.NumberColumn(
                "texts", help="texts of the true label predicted as the other"
            ),
            "share of the label's texts": st.column_config.ProgressColumn(
                "share of the label's texts", format="percent", min_value=0.0, max_value=1.0
            ),
            "base model": st.column_config.NumberColumn(
                "base model", help="the same confusion by the base model, on the same texts"
            ),
        },
    )
    if len(pairs) > PAIRS_SHOWN:
        st.caption(f"The {PAIRS_SHOWN} largest of {len(pairs)} pairs; the errors table has all.")
    labels = matrix_labels(final)
    st.markdown(
        f"**Confusion matrix of the {len(labels)} labels in the worst confusions** "
        f"(of {len(final.labels)}; rows: true label, columns: predicted; colour: share of all "
        "the label's texts, so a row's cells need not add up to 100 %)"
    )
    confusion_charts(final, baseline, labels)


def matrices(final: Evaluation, baseline: Evaluation | None, where: str) -> None:
    if final.confusion_matrix:  # none for multi-label runs: each label is its own yes / no
        if len(final.labels) > MANY_LABELS:
            confusions(final, baseline, where)
        else:
            st.markdown(f"**Confusion matrix** ({where}; rows: true label, columns: predicted)")
            confusion_charts(final, baseline)
    per_label(final, baseline)


def errors(evaluation: Evaluation, texts, rows, key: str, where: str) -> None:
    """The texts the model got wrong: filter by label, sorted by confidence, downloadable."""
    found = mistakes(evaluation, texts, rows)
    st.markdown(f"**Errors** ({len(found)} of {evaluation.n} {where} texts misclassified)")
    if not found:
        st.caption("None: every text got its label." if evaluation.y_pred else "Not kept.")
        return
    frame = pd.DataFrame([m.to_dict() for m in found])
    for column in ("label", "predicted"):  # a multi-label row's labels as one cell
        frame[column] = [label_text(y) for y in frame[column]]
    frame = frame.rename(columns={"label": "true label", "predicted": "predicted label"})
    frame = frame[ERROR_COLUMNS]
    c1, c2 = st.columns([3, 1])
    labels = sorted(set(frame["true label"]) | set(frame["predicted label"]))
    chosen = c1.multiselect(
        "Show errors involving these labels (true or predicted)",
        labels,
        key=f"errors_labels_{key}",
        placeholder="All labels",
    )
    order = c2.selectbox(
        "Order",
        ["Most confident first", "Least confident first"],
        key=f"errors_order_{key}",
    )
    if chosen:
        frame = frame[frame["true label"].isin(chosen) | frame["predicted label"].isin(chosen)]
    frame = frame.sort_values("confidence", ascending=order.startswith("Least"))
    st.dataframe(
        frame.head(ERRORS_SHOWN),
        hide_index=True,
        column_config={
            "row": st.column_config.NumberColumn("row", width="small"),
            **label_columns("true label", "predicted label"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", format="%.2f", min_value=0.0, max_value=1.0, width="small"
            ),
            "text": st.column_config.TextColumn("text", width="large"),
        },
    )
    if len(frame) > ERRORS_SHOWN:
        st.caption(f"The first {ERRORS_SHOWN} shown; the download has all {len(frame)}.")
    st.download_button(
        "Download these errors (CSV)",
        csv_bytes(list(frame.columns), frame.itertuples(index=False)),
        file_name=f"errors-{key}.csv",
        mime="text/csv",
        key=f"errors_download_{key}",
        icon=":material/download:",
    )


def validation_errors(record: RunRecord) -> None:
    if record.final is None:
        return
    try:
        valid = state.store().load_dataset(record.id).valid
    except EmbedtuneError as exc:
        show_error(exc)
        return
    errors(record.final, valid.texts, valid.rows, "valid", "validation")


def record_status(current: RunRecord) -> None:
    """The run's status, time and progress: the live part."""
    c = current.config
    st.markdown(f"**Run `{current.id}`** {status_badge(current.status)}")
    st.caption(
        f"Base model {c.base_model} · {current.data.train_rows} training, "
        f"{current.data.valid_rows} validation examples · "
        f"{len(current.data.classes)} labels · {c.epochs} epochs · "
        f"{'running for' if current.active else 'took'} {fmt_duration(current.duration_s)}"
    )
    if current.active:
        st.progress(run_fraction(current), text=progress_text(current))


def draw_record(current: RunRecord) -> None:
    """How the run ended, its validation scores, curves and matrices: drawn again only when
    the run's record changes in them (a new evaluation, the end)."""
    if current.status == "completed":
        completed_message(current)
        st.page_link(PLAYGROUND_PAGE, label="Open the Playground", icon=":material/science:")
    elif current.status == "failed":
        reason = (current.error or {}).get("reason", "unknown reason")
        st.error(f"The run failed: {md(reason)}", icon=":material/error:")
    elif current.status == "cancelled":
        st.info("The run was cancelled; the scores below are those measured before.")
    if current.final is not None:
        headline(current)
    curves(current)
    if current.final is not None:
        matrices(current.final, current.baseline, "validation split")


def read_test_table(name: str, raw: bytes) -> tuple[Table, list[str]]:
    """The test file as the Data page reads files; a first row that looks like column names is
    read as a header (and said so)."""
    table = read_table(raw, name=name)
    try:
        if not table.choose_columns:
            table.labeled()
    except HeaderRowError:
        note = "The first row looks like column names, so it was read as a header."
        table = read_table(raw, name=name, header=True)
        return table, [note, *table.notes]
    return table, list(table.notes)


def choose_test_columns(table: Table, run_id: str) -> tuple[str | None, str | None]:
    if not table.choose_columns:
        return None, None
    names = list(table.columns)
    text_at, label_at = table.default_columns() or (0, 1)
    c1, c2 = st.columns(2)
    text = c1.selectbox("Text column", names, index=text_at, key=f"test_text_{run_id}")
    label = c2.selectbox("Label column", names, index=label_at, key=f"test_label_{run_id}")
    return text, label


def test_upload(record: RunRecord) -> None:
    """Upload a test file, score the run and its base model on it, keep the result."""
    upload = st.file_uploader(
        "Test file (like the training data: a text and a label per row)",
        type=list(EXTENSIONS),
        key=f"test_file_{record.id}",
    )
    if upload is None:
        return
    raw = upload.getvalue()
    try:
        table, notes = read_test_table(upload.name, raw)
        columns = choose_test_columns(table, record.id)
        if record.data.multi_label:  # label lists or cells joined by "|"
            test = labeled_multi(table, *columns)
        else:
            test = table.labeled(*columns)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    for note in notes:
        st.caption(md(note))
    digest = hashlib.sha256(raw).hexdigest()[:12]
    st.caption(f"{len(test)} rows · {len(test.classes)} labels")
    unseen = choose_unseen(record, test)
    key = test_key(test, unseen)
    if key in [t.key for t in record.tests]:
        # A completed run never changes: the same rows scored again would give the same figures.
        seen = f"{digest}:{unseen}"
        if st.session_state.get(f"test_seen_{record.id}") != seen:
            st.session_state[f"test_seen_{record.id}"] = seen
            st.session_state[f"test_pick_{record.id}"] = key
        st.caption("This run was evaluated on these rows before: the result is below.")
        return
    if st.button("Evaluate", type="primary", key=f"evaluate_{record.id}_{digest}"):
        try:
            with st.spinner("Scoring the finetuned model and the base model on the test file…"):
                result = evaluate_run(state.store(), record.id, test, unseen=unseen)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        st.session_state[f"test_seen_{record.id}"] = f"{digest}:{unseen}"
        st.session_state[f"test_pick_{record.id}"] = result.key
        st.rerun()  # the run's record now lists the evaluation


def choose_unseen(record: RunRecord, test) -> str:
    """Before the Evaluate button: the test file's labels the run never learnt, named briefly,
    and what to do with their rows ('count' or 'skip'); 'count' when there are none."""
    unseen = unseen_labels(test, record.data.classes)
    if not unseen:
        return "count"
    rows = len({row for found in unseen.values() for row in found})
    st.warning(
        f"{md(describe_unseen(unseen))}; {rows} of the {len(test)} rows. Choose what to do "
        "with them:",
        icon=":material/help:",
    )
    options = record.task.unseen_options
    return st.radio(
        "Rows of labels the run never learnt",
        list(options),
        format_func=options.__getitem__,
        key=f"test_unseen_{record.id}",
    )


def unseen_note(evaluation: Evaluation) -> None:
    """What became of the labels the run never learnt: left out, or counted as errors."""
    unseen = evaluation.unseen_labels
    if not unseen:
        return
    named = ", ".join(md(repr(label)) for label in unseen[:SHOWN_UNSEEN])
    if len(unseen) > SHOWN_UNSEEN:
        named += f" and {len(unseen) - SHOWN_UNSEEN} more"
    labels = f"{len(unseen)} label{'s' if len(unseen) != 1 else ''} the run never learnt"
    if evaluation.skipped:
        rows = f"{evaluation.skipped} row{'s' if evaluation.skipped != 1 else ''}"
        st.caption(f":material/help: {rows} of {labels} ({named}) left out of these scores.")
    else:
        cost = scored_task(evaluation).unseen_cost(evaluation)
        st.caption(f":material/help: {labels.capitalize()} ({named}): {cost}.")


def draw_test(result: TestResult) -> None:
    st.caption(
        f"{md(result.name)} · evaluated {fmt_time(result.evaluated_at)} · "
        + scope(result.final, "test file")
    )
    unseen_note(result.final)
    outcome = judge(result.final, result.baseline, finetune_kept=result.finetune_kept, where="test")
    (st.success if outcome.clear_gain else st.info)(md(outcome.message))
    tiles(result.final, result.baseline)
    few_examples_note(result.final, "test")
    matrices(result.final, result.baseline, "test file")
    errors(result.final, result.texts, result.rows, f"test-{result.key}", "test")


def test_section(record: RunRecord) -> None:
    st.divider()
    st.subheader("Evaluate on a test file")
    st.caption(
        "Texts the run never saw, labelled with the labels it learnt: the unbiased figure. The "
        "base model is scored beside it (frozen embeddings with the same kind of head, fitted on "
        "the same training rows), and the result is kept with the run."
    )
    test_upload(record)
    if not record.tests:
        return
    keys = [t.key for t in record.tests]
    names = {
        t.key: f"{t.name} · {t.n} rows · F1 {t.f1:.3f} · {fmt_time(t.evaluated_at)}"
        for t in record.tests
    }
    pick = f"test_pick_{record.id}"
    if st.session_state.get(pick) not in keys:
        st.session_state.pop(pick, None)
    chosen = st.selectbox("Test evaluation", keys, format_func=names.__getitem__, key=pick)
    try:
        draw_test(load_test(state.store(), record.id, chosen))
    except EmbedtuneError as exc:
        show_error(exc)


st.title("Metrics")
runs = [r for r in state.store().list() if isinstance(r, RunRecord)]
if not runs:
    st.info("No runs yet: start a finetune on the Train page.", icon=":material/monitoring:")
    st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/arrow_forward:")
    st.stop()

ids = [r.id for r in runs]
titles = {r.id: run_title(r) for r in runs}
active = state.active_run_id()
chosen_run = st.selectbox(
    "Run",
    ids,
    index=ids.index(active) if active in ids else 0,
    format_func=titles.__getitem__,
    key="metrics_run",
)
if chosen_run != active:
    state.set_active_run(chosen_run)
record = live_run(chosen_run, record_status)
if record is not None:
    draw_record(record)
    if record.status == "completed":
        validation_errors(record)
        test_section(record)

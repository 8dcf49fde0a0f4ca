"""Shared widgets and formatting: safe text, errors, run summaries, settings help."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import datetime

import streamlit as st

from core.runs.store import RunRecord

# Page files, for st.page_link / st.switch_page (registered in app.py).
DATA_PAGE = "app_pages/data.py"
TRAIN_PAGE = "app_pages/train.py"
DASHBOARD_PAGE = "app_pages/dashboard.py"
METRICS_PAGE = "app_pages/metrics.py"
PLAYGROUND_PAGE = "app_pages/playground.py"

STATUS_STYLE = {
    "queued": ("gray", "schedule"),
    "running": ("blue", "directions_run"),
    "completed": ("green", "check_circle"),
    "failed": ("red", "error"),
    "cancelled": ("orange", "stop_circle"),
    "broken": ("red", "warning"),
}
PHASE_NAMES = {
    "queued": "Waiting for the device",
    "baseline": "Measuring the base model (baseline)",
    "finetune": "Finetuning",
    "head": "Fitting the classifier head",
    "saving": "Saving the model",
    "done": "Done",
}
_ESCAPE = re.compile("([" + re.escape(string.punctuation) + "])")


def md(text: object) -> str:
    """Text shown literally inside Markdown: every ASCII punctuation mark is backslash-escaped,
    so user text can never become a link, an image, a directive or formatting (HTML is never
    rendered by Streamlit's Markdown either)."""
    return _ESCAPE.sub(r"\\\1", str(text)).replace("\n", " ")


def show_error(exc: BaseException) -> None:
    """An EmbedtuneError as the user sees it: the message, never a traceback."""
    st.error(md(exc), icon=":material/block:")


def status_text(status: str) -> str:
    """A run's status for tables and pickers (plain text)."""
    return status


def status_badge(status: str) -> str:
    """A run's status as a coloured Markdown badge with an icon."""
    color, icon = STATUS_STYLE.get(status, ("gray", "help"))
    return f":{color}-badge[:material/{icon}: {status}]"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_time(iso: str | None) -> str:
    """An ISO timestamp in the server's local time, to the minute."""
    if not iso:
        return "–"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def progress_text(record: RunRecord) -> str:
    """'Finetuning: step 3 of 16 · about 20 s left'."""
    p = record.progress
    text = PHASE_NAMES.get(p.phase, p.phase)
    if p.total:
        text += f": step {p.step} of {p.total}"
    if p.eta_s is not None and record.active and p.phase == "finetune":
        text += f" · about {fmt_duration(p.eta_s)} left"
    return text


def run_fraction(record: RunRecord) -> float:
    """Overall progress 0..1 from the phase and step (finetuning is most of the time)."""
    spans = {"queued": (0.0, 0.0), "baseline": (0.0, 0.1), "finetune": (0.1, 0.9)}
    spans |= {"head": (0.9, 0.97), "saving": (0.97, 1.0), "done": (1.0, 1.0)}
    if record.status == "completed":
        return 1.0
    start, end = spans.get(record.progress.phase, (0.0, 0.0))
    return start + (end - start) * record.progress.fraction


def run_title(record: RunRecord) -> str:
    """A one-line description of a run for pickers (plain text, not Markdown)."""
    data = record.data
    classes = data.get("classes", [])
    f1 = f" · F1 {record.best_f1:.3f}" if record.best_f1 is not None else ""
    name = data.get("train_name") or "data"
    return (
        f"{record.id} · {record.config.base_model} · {name} · "
        f"{len(classes)} labels{f1} · {record.status}"
    )


def completed_message(record: RunRecord) -> None:
    """The end of a completed run, celebrated only when the gain over the base model is above
    the noise of the validation rows (its paired-bootstrap interval above zero)."""
    from core.train.outcome import KEPT_BASE, judge

    done = "Finetune completed. Now you can test your model in the Playground."
    if record.final is None or record.baseline is None:
        st.success(done, icon=":material/check_circle:")
        return
    outcome = judge(record.final, record.baseline, finetune_kept=record.finetune_kept is not False)
    message = outcome.message
    if outcome.kind == KEPT_BASE and record.note:
        message = record.note  # the run's own figures
    if outcome.clear_gain:
        st.success(f"{done} {md(message)}", icon=":material/celebration:")
    else:
        st.info(f"{done} {md(message)}", icon=":material/info:")


def live_run(
    run_id: str,
    draw: Callable[[RunRecord], None],
    refresh_s: float,
    on_end: Callable[[RunRecord], None] | None = None,
) -> None:
    """Draw a run; while it is active, redraw it every `refresh_s` in a fragment (never a
    blocking loop), and rerun the whole page once when it ends (sidebar, links)."""
    from core.errors import EmbedtuneError
    from ui import state

    try:
        record = state.store().get(run_id)
    except EmbedtuneError as exc:
        show_error(exc)
        return

    @st.fragment(run_every=refresh_s if record.active else None)
    def live() -> None:
        try:
            current = state.store().get(run_id)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        draw(current)
        if record.active and not current.active:
            if on_end is not None:
                on_end(current)
            st.rerun(scope="app")

    live()

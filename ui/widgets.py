"""Shared widgets and formatting: safe text, errors, run summaries, settings help."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import datetime

import streamlit as st

from core.runs.status import format_duration, status_line
from core.runs.store import RunRecord, RunStore

# Page files, for st.page_link / st.switch_page (registered in app.py).
DATA_PAGE = "app_pages/data.py"
LABEL_PAGE = "app_pages/label.py"
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
# How often a run's status line (step, time left, time running) redraws from its record while
# the run is active. Only the status line is live: every fragment rerun costs the server ~20 ms
# of CPU on a busy 2-core machine, whatever it draws (bench/app_cpu.py), and the scores, curves
# and tables change only with a new evaluation, when the whole page is drawn again (live_run).
# 2 s keeps the status within 3 s of the worker's writes (1 s apart) under load.
LIVE_REFRESH_S = 2.0
# The sidebar's run: a second fragment on every page, so slower; the page's own status line
# is the one to watch.
SIDEBAR_REFRESH_S = 4.0
# The Dashboard's runs table (every run's progress cell): slower still; the run's details
# below it are the live line.
TABLE_REFRESH_S = 10.0
_ESCAPE = re.compile("([" + re.escape(string.punctuation) + "])")


def md(text: object) -> str:
    """Text shown literally inside Markdown: every ASCII punctuation mark is backslash-escaped,
    so user text can never become a link, an image, a directive or formatting (HTML is never
    rendered by Streamlit's Markdown either)."""
    return _ESCAPE.sub(r"\\\1", str(text)).replace("\n", " ")


def download_buttons(*files: tuple[str, bytes, str, str]) -> None:
    """A row of download buttons, one per (label, data, file name, MIME type); the file name
    keys the button, and a click does not rerun the page."""
    for column, (label, data, name, mime) in zip(st.columns([1] * len(files) + [3]), files):
        column.download_button(
            label,
            data,
            file_name=name,
            mime=mime,
            on_click="ignore",
            icon=":material/download:",
            key=f"download_{name}",
        )


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
    """'45 s', '3 min 05 s', '1 h 02 min' (core.runs.status.format_duration: the CLI's too)."""
    return format_duration(seconds)


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 run', '2 runs', '0 runs'."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def fmt_time(iso: str | None) -> str:
    """An ISO timestamp in the server's local time, to the minute."""
    if not iso:
        return "–"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def progress_text(record: RunRecord, store: RunStore | None = None, brief: bool = False) -> str:
    """'Finetuning: step 3 of 16 · about 20 s left', or a queued run's place in the queue: the
    one status line of core.runs.status, the same in every part of the app and the CLI."""
    from ui import state

    return status_line(record, store or state.store(), brief)


def run_fraction(record: RunRecord, store: RunStore | None = None) -> float:
    """Overall progress 0..1: the time spent over the time spent and left, once it runs."""
    from core.runs.estimate import time_left
    from ui import state

    if record.status == "completed":
        return 1.0
    if record.status != "running" or not record.duration_s:
        return 0.0
    left = time_left(record, store or state.store())
    return min(1.0, record.duration_s / (record.duration_s + left)) if left else 0.99


def run_title(record: RunRecord) -> str:
    """A one-line description of a run for pickers (plain text, not Markdown)."""
    data = record.data
    classes = data.classes
    f1 = f" · F1 {record.best_f1:.3f}" if record.best_f1 is not None else ""
    name = data.train_name or "data"
    named = f"{record.name} · " if record.name else ""
    return (
        f"{named}{record.id} · {record.config.base_model} · {name} · "
        f"{len(classes)} labels{f1} · {record.status}"
    )


def run_heading(record: RunRecord) -> str:
    """'**name** `ft-…` badge' (Markdown; the name escaped), or '**Run** `ft-…` badge'."""
    name = f"**{md(record.name)}** · " if record.name else "**Run** "
    return f"{name}`{record.id}` {status_badge(record.status)}"


def live(draw: Callable[[], None], active: bool, refresh_s: float = LIVE_REFRESH_S) -> None:
    """Call `draw` in a fragment that redraws itself every `refresh_s` while `active` (never a
    blocking loop, never a full rerun)."""
    st.fragment(run_every=refresh_s if active else None)(draw)()


def completed_message(record: RunRecord, lead: bool = True) -> None:
    """The end of a completed run (core.train.outcome.judge: the gain, its interval and the
    labels that got clearly worse), celebrated only when the gain over the base model is above
    the noise of the validation rows and no label fell clearly. `lead`: begin with "Finetune
    completed" and the way to the Playground."""
    from core.train.outcome import KEPT_BASE, judge

    done = "Finetune completed. Now you can test your model in the Playground." if lead else ""
    if record.final is None or record.baseline is None:
        if lead:
            st.success(done, icon=":material/check_circle:")
        return
    outcome = judge(record.final, record.baseline, finetune_kept=record.finetune_kept is not False)
    message = outcome.message
    if outcome.kind == KEPT_BASE and record.note:
        message = record.note  # the run's own figures
    text = f"{done} {md(message)}".strip()
    if outcome.clear_gain:
        st.success(text, icon=":material/celebration:")
    else:
        st.info(text, icon=":material/info:")


def shown(record: RunRecord) -> tuple[object, ...]:
    """What a page draws from a run besides its status line (scores, curves, messages, links):
    it changes with a new evaluation, a new status, a name or a test evaluation, never with a
    step."""
    return (
        record.status,
        len(record.history),
        record.final is not None,
        record.name,
        len(record.tests),
    )


def live_run(
    run_id: str,
    draw: Callable[[RunRecord], None],
    refresh_s: float = LIVE_REFRESH_S,
    on_end: Callable[[RunRecord], None] | None = None,
    watch: Callable[[RunRecord], object] = shown,
) -> RunRecord | None:
    """Draw a run's status line with `draw` (keep it light); while the run is active, redraw it
    every `refresh_s` in a fragment (never a blocking loop), and rerun the whole page once when
    `watch` of the record changes (a new evaluation, the run ending), so the rest of the page,
    drawn from the record returned here, follows. None when the run cannot be read (said)."""
    from core.errors import EmbedtuneError
    from ui import state

    try:
        record = state.store().get(run_id)
    except EmbedtuneError as exc:
        show_error(exc)
        return None
    drawn = watch(record)

    @st.fragment(run_every=refresh_s if record.active else None)
    def live() -> None:
        try:
            current = state.store().get(run_id)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        draw(current)
        if record.active and watch(current) != drawn:
            if on_end is not None and not current.active:
                on_end(current)
            st.rerun(scope="app")

    live()
    return record

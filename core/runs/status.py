"""A run's status in one line, the same for the app and the command line: its phase and step,
the time left, or its place in the queue and what it waits behind."""

from __future__ import annotations

from core.runs.estimate import time_left, time_left_range
from core.runs.queue import ordinal, queue_order
from core.runs.store import RunRecord, RunStore

PHASE_NAMES = {
    "queued": "Waiting for the device",
    "baseline": "Measuring the base model (baseline)",
    "finetune": "Finetuning",
    "head": "Fitting the classifier head",
    "saving": "Saving the model",
    "done": "Done",
}


def format_duration(seconds: float | None) -> str:
    """'45 s', '3 min 05 s', '1 h 02 min'; '–' when unknown."""
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


def rough(seconds: float) -> str:
    """A time rounded as a person would say it: '40 s', '3 min', '1 h 05 min'."""
    if seconds < 60:
        return f"{max(5, int(round(seconds / 5)) * 5)} s"
    if seconds < 3600:
        return f"{int(round(seconds / 60))} min"
    return format_duration(seconds)


def about(seconds: float) -> str:
    """'about 40 s', 'about 3 min'."""
    return f"about {rough(seconds)}"


def queue_line(store: RunStore, run_id: str) -> str:
    """'2nd in the queue, after ft-… (running) and ft-…, about 3 min': where a queued run is."""
    order = queue_order(store)
    ids = [r.id for r in order]
    if run_id not in ids or order[ids.index(run_id)].status != "queued":
        return PHASE_NAMES["queued"]
    ahead = order[: ids.index(run_id)]
    if not ahead:
        return "Next in the queue: starting"
    seconds = sum(time_left(r, store) for r in ahead)
    names = [f"{r.id} (running)" if r.status == "running" else r.id for r in ahead]
    if len(names) > 3:
        after = f"{', '.join(names[:2])} and {len(names) - 2} more"
    else:
        after = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    place = ids.index(run_id) + 1 - sum(r.status == "running" for r in order)
    return f"{ordinal(place)} in the queue, after {after}, {about(seconds)}"


def status_line(record: RunRecord, store: RunStore, brief: bool = False) -> str:
    """'Finetuning: step 3 of 16 · about 20 s left (5 s to 40 s: early stopping decides)', or for
    a queued run its place in the queue; `brief` leaves out the range (a table cell)."""
    if record.status == "queued":
        return queue_line(store, record.id)
    p = record.progress
    text = PHASE_NAMES.get(p.phase, p.phase)
    if p.total:
        text += f": step {p.step} of {p.total}"
    if record.active:
        text += f" · {about(time_left(record, store))} left"
        spread = None if brief else time_left_range(record)
        if spread is not None and rough(spread[0]) != rough(spread[1]):
            text += f" ({rough(spread[0])} to {rough(spread[1])}: early stopping decides)"
    return text

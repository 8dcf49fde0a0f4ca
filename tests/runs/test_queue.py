"""The queue: its order, which runs a run waits behind, and the line that says so (the same in
the app and the command line)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from core.config import TrainConfig
from core.runs.queue import ordinal, queue_order, queued_ids
from core.runs.status import about, format_duration, status_line
from core.runs.store import Progress, RunStore, now_iso
from tests.helpers import tiny_dataset


@pytest.fixture
def queue(tmp_path):
    """A running run and two queued ones, submitted in the order a, b, c (b first in the
    queue)."""
    store = RunStore(tmp_path / "runs")
    ids = []
    for seed in (1, 2, 3):
        record, _ = store.create(TrainConfig(seed=seed), tiny_dataset())
        ids.append(record.id)
    running = store.update(
        ids[0],
        status="running",
        started_at=now_iso(),
        progress=Progress(phase="finetune", step=3, total=12, eta_s=150.0, updated_at=now_iso()),
    )
    return store, running.id, ids[1], ids[2]


def test_running_runs_come_first_then_queued_ones_in_submission_order(queue):
    store, a, b, c = queue
    assert [r.id for r in queue_order(store)] == [a, b, c]
    assert queued_ids(store) == [b, c]


def test_a_queued_run_says_its_place_what_it_waits_behind_and_for_how_long(queue):
    store, a, b, c = queue
    line = status_line(store.get(c), store)
    assert re.fullmatch(rf"2nd in the queue, after {a} \(running\) and {b}, about \d+ min", line), (
        line
    )
    line = status_line(store.get(b), store)
    assert re.fullmatch(rf"1st in the queue, after {a} \(running\), about 2 min", line), line


def test_a_running_run_says_its_phase_step_and_time_left(queue):
    store, a, _, _ = queue
    assert status_line(store.get(a), store) == "Finetuning: step 3 of 12 · about 2 min left"


def test_while_early_stopping_may_end_a_run_its_line_gives_the_soonest_and_latest_end(queue):
    store, a, _, _ = queue
    progress = store.get(a).progress
    store.update(a, progress=dataclasses.replace(progress, eta_range_s=(40.0, 300.0)))
    assert status_line(store.get(a), store) == (
        "Finetuning: step 3 of 12 · about 2 min left (40 s to 5 min: early stopping decides)"
    )
    # A table cell takes the brief line.
    line = status_line(store.get(a), store, brief=True)
    assert line == "Finetuning: step 3 of 12 · about 2 min left"
    # A range that rounds to one figure is not worth saying.
    store.update(a, progress=dataclasses.replace(progress, eta_range_s=(130.0, 145.0)))
    assert status_line(store.get(a), store) == "Finetuning: step 3 of 12 · about 2 min left"


def test_a_queued_run_with_nothing_ahead_is_starting(tmp_path):
    store = RunStore(tmp_path / "runs")
    record, _ = store.create(TrainConfig(), tiny_dataset())
    assert status_line(record, store) == "Next in the queue: starting"


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th")]
    + [(21, "21st"), (22, "22nd"), (101, "101st"), (111, "111th")],
)
def test_ordinals(n, text):
    assert ordinal(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3, "about 5 s"), (42, "about 40 s"), (89, "about 1 min"), (150, "about 2 min")]
    + [(3600 + 120, "about 1 h 02 min")],
)
def test_rough_times(seconds, text):
    assert about(seconds) == text


def test_durations():
    shown = [format_duration(s) for s in (None, 5, 65, 3725)]
    assert shown == ["–", "5 s", "1 min 05 s", "1 h 02 min"]

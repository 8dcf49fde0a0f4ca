"""Estimates before a run starts: the catalogue's figures until a run has finished here, then
the throughput runs measured; the range; the time in the queue."""

from __future__ import annotations

import time

import pytest

from core.config import TrainConfig
from core.model.catalogue import CATALOGUE
from core.runs.estimate import Rates, estimate, prior, rates, run_seconds, time_left
from core.runs.store import Progress, RunStore, now_iso
from core.runs.timing import Timing
from tests.helpers import tiny_dataset

CONFIG = TrainConfig()  # 8 epochs, batch 16, early stopping after 3 evaluations


def timing(texts: int = 100, examples_per_s: float = 40.0, encode_per_s: float = 200.0, **kw):
    values = dict(
        train_examples_per_s=examples_per_s,
        encode_texts_per_s=encode_per_s,
        start_s=2.0,
        end_s=3.0,
        steps_fraction=0.75,
        steps=30,
        max_steps=40,
        evaluations=6,
        texts=texts,
        run_s=60.0,
        queued_s=6.0,
    )
    return Timing(**{**values, **kw})


def finished(store: RunStore, seed: int, measured: Timing, base_model: str = "small", kind="cpu"):
    record, _ = store.create(TrainConfig(seed=seed, base_model=base_model), tiny_dataset())
    (store.path(record.id) / "model").mkdir()  # a completed run has its model folder
    return store.update(
        record.id,
        status="completed",
        started_at=now_iso(),
        finished_at=now_iso(),
        device={"kind": kind, "name": kind.upper()},
        timing=measured,
    )


def test_without_a_finished_run_the_catalogue_figures_are_used_and_said_so(tmp_path):
    measured = rates(RunStore(tmp_path / "runs"), "small")
    assert measured.runs == 0
    assert measured.train_examples_per_s == CATALOGUE["small"].train_examples_per_s_cpu
    assert measured.source.startswith("from the catalogue's CPU figures for the small model")


def test_a_model_folder_outside_the_catalogue_gets_the_small_models_figures_said_so(tmp_path):
    measured = rates(RunStore(tmp_path / "runs"), "/models/my-model")
    assert measured.train_examples_per_s == CATALOGUE["small"].train_examples_per_s_cpu
    assert measured.source.startswith("from the catalogue's CPU figures for the small model (")
    config = TrainConfig(base_model="/models/my-model")
    assert estimate(config, 100, 20, RunStore(tmp_path / "runs")).seconds > 0


def test_finished_runs_of_the_same_model_and_device_give_the_rates(tmp_path):
    store = RunStore(tmp_path / "runs")
    for seed, pace in enumerate([30.0, 40.0, 90.0]):
        finished(store, seed, timing(examples_per_s=pace, queued_s=5.0 + seed))
    finished(store, 10, timing(examples_per_s=1.0), base_model="large")
    finished(store, 11, timing(examples_per_s=1000.0), kind="cuda")
    measured = rates(store, "small")
    assert measured.runs == 3
    assert measured.train_examples_per_s == 40.0  # the median: one odd run does not lead
    assert measured.startup_s == 5.0  # the least wait: a run with nothing ahead
    assert measured.source == "measured by 3 finished runs of the small model here"
    assert rates(store, "small", "cuda").train_examples_per_s == 1000.0


def test_runs_of_different_sizes_separate_the_fixed_cost_of_an_evaluation(tmp_path):
    store = RunStore(tmp_path / "runs")
    # Each evaluation: 1 s besides encoding, then 200 texts a second.
    for seed, texts in enumerate([100, 300, 600]):
        finished(store, seed, timing(texts=texts, encode_per_s=texts / (1 + texts / 200)))
    measured = rates(store, "small")
    assert measured.eval_fixed_s == pytest.approx(1.0)
    assert measured.encode_texts_per_s == pytest.approx(200.0)
    assert measured.eval_s(1000) == pytest.approx(6.0)


def test_the_run_time_adds_up_the_steps_the_evaluations_and_the_ends():
    measured = Rates("small", 40.0, 200.0, 5.0, 2.0, 3.0, steps_fraction=1.0, runs=1)
    # 160 training rows: 10 steps an epoch, 8 epochs, 8 evaluations; 200 texts encoded 10 times.
    seconds = run_seconds(CONFIG, 160, 40, measured)
    assert seconds == pytest.approx(2 + 160 * 8 / 40 + 10 * 200 / 200 + 3)
    # Early stopping expected half-way: half the steps and evaluations.
    half = run_seconds(CONFIG, 160, 40, measured, steps_fraction=0.5)
    assert half == pytest.approx(2 + 160 * 4 / 40 + 6 * 200 / 200 + 3)
    # Never before patience + 1 evaluations; without early stopping, the whole schedule.
    assert run_seconds(CONFIG, 160, 40, measured, steps_fraction=0.1) == pytest.approx(
        2 + 160 * 4 / 40 + 6 + 3
    )
    no_stop = CONFIG.replace(early_stopping_patience=0)
    assert run_seconds(no_stop, 160, 40, measured, steps_fraction=0.5) == seconds


def test_the_prior_of_the_live_eta_comes_from_the_same_rates():
    measured = Rates("small", 32.0, 100.0, 5.0, 2.0, 3.0, steps_fraction=0.6, eval_fixed_s=0.5)
    expected = prior(CONFIG, 160, 40, measured)
    assert expected.step_s == pytest.approx(16 / 32)
    assert expected.eval_s == pytest.approx(0.5 + 2.0)
    assert expected.end_s == pytest.approx(3.0)
    assert expected.steps_fraction == 0.6


def test_the_estimate_is_a_range_around_the_expected_time(tmp_path):
    guess = estimate(CONFIG, 400, 100, RunStore(tmp_path / "runs"))
    assert guess.low < guess.seconds < guess.high
    assert guess.queue_s == 0 and guess.ahead == ()
    bigger = estimate(CONFIG, 800, 200, RunStore(tmp_path / "runs"))
    assert bigger.seconds > guess.seconds


def test_the_estimate_includes_the_time_left_of_the_runs_ahead(tmp_path):
    store = RunStore(tmp_path / "runs")
    running, _ = store.create(TrainConfig(seed=1), tiny_dataset())
    store.update(
        running.id,
        status="running",
        started_at=now_iso(),
        progress=Progress(phase="finetune", step=5, total=10, eta_s=120.0, updated_at=now_iso()),
    )
    queued, _ = store.create(TrainConfig(seed=2), tiny_dataset())
    alone = estimate(CONFIG, 400, 100, RunStore(tmp_path / "empty"))
    guess = estimate(CONFIG, 400, 100, store)
    assert guess.ahead == (running.id, queued.id)
    assert guess.queue_s == pytest.approx(120 + time_left(store.get(queued.id), store), abs=2)
    assert guess.seconds == pytest.approx(alone.seconds + guess.queue_s)
    # The run being estimated is never ahead of itself (an identical active run is reused).
    itself = estimate(CONFIG, 400, 100, store, run_id=queued.id)
    assert itself.ahead == (running.id,)


def test_a_running_runs_time_left_is_its_eta_less_the_time_since_it_was_written(tmp_path):
    store = RunStore(tmp_path / "runs")
    record, _ = store.create(TrainConfig(), tiny_dataset())
    written = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 30))
    record = store.update(
        record.id,
        status="running",
        started_at=written,
        progress=Progress(phase="finetune", step=5, total=10, eta_s=100.0, updated_at=written),
    )
    assert time_left(record, store) == pytest.approx(70, abs=2)
    assert time_left(record.replace(status="completed"), store) == 0.0

"""Estimates before a run starts: the catalogue's figures until a run has finished here, then
the throughput runs measured; the range; the time in the queue."""

from __future__ import annotations

import os
import time
from datetime import datetime

import pytest

from core.config import TrainConfig
from core.data.labeled import DataSet, LabeledTexts, split
from core.data.multilabel import from_label_sets
from core.model.catalogue import CATALOGUE, cpu_supports_bf16
from core.runs.estimate import (
    BF16_ENCODE_SPEEDUP,
    BF16_TRAIN_SPEEDUP,
    MAP_S_DEFAULT,
    MULTI_STEPS_FRACTION_DEFAULT,
    STEPS_FRACTION_DEFAULT,
    Rates,
    estimate,
    prior,
    rates,
    run_precision,
    run_seconds,
    time_left,
    work_texts,
)
from core.runs.maps import map_path
from core.runs.store import Progress, RunStore, now_iso
from core.runs.timing import Timing
from core.train.label_names import finetune_rows
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


def intents(labels: int, per_label: int = 5) -> DataSet:
    """`labels` intents named as words ("intent_aa", "intent_ab", ...), `per_label` rows each."""
    names = [f"intent_{chr(97 + k // 26)}{chr(97 + k % 26)}" for k in range(labels)]
    pairs = [
        (f"please help with request {i} about {name}", name)
        for name in names
        for i in range(per_label)
    ]
    return split(LabeledTexts.from_pairs(pairs, name="intents.csv"), seed=0)


def topics_multi() -> DataSet:
    """Multi-label rows: each text carries one or two of three topics."""
    kinds = [["sport"], ["food", "tech"], ["tech"]]
    texts = [f"text number {i}" for i in range(30)]
    sets = [kinds[i % 3] for i in range(30)]
    return split(from_label_sets(texts, sets, name="topics.jsonl"), seed=0)


def finished(
    store: RunStore,
    seed: int,
    measured: Timing,
    base_model: str = "small",
    kind="cpu",
    data: DataSet | None = None,
    precision: str = "fp32",
):
    record, _ = store.create(TrainConfig(seed=seed, base_model=base_model), data or tiny_dataset())
    (store.path(record.id) / "model").mkdir()  # a completed run has its model folder
    return store.update(
        record.id,
        status="completed",
        started_at=now_iso(),
        finished_at=now_iso(),
        device={"kind": kind, "name": kind.upper(), "precision": precision},
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
    # Each evaluation: 1 s besides its work, then 200 texts a second (the head's work of the
    # three labels counted in texts).
    for seed, texts in enumerate([100, 300, 600]):
        seconds = 1 + work_texts(texts, 3) / 200
        finished(store, seed, timing(texts=texts, encode_per_s=texts / seconds))
    measured = rates(store, "small")
    assert measured.eval_fixed_s == pytest.approx(1.0)
    assert measured.encode_texts_per_s == pytest.approx(200.0)
    assert measured.eval_s(1000, labels=3) == pytest.approx(1 + work_texts(1000, 3) / 200)


def test_the_run_time_adds_up_the_steps_the_evaluations_and_the_ends():
    measured = Rates("small", 40.0, 200.0, 5.0, 2.0, 3.0, steps_fraction=1.0, runs=1)
    # 160 training rows: 10 steps an epoch, 8 epochs, 8 evaluations; 200 texts of two labels
    # encoded (and a head fitted) 10 times.
    evaluation = work_texts(200, 2) / 200
    seconds = run_seconds(CONFIG, 160, 40, measured)
    assert seconds == pytest.approx(2 + 160 * 8 / 40 + 10 * evaluation + 3)
    # Early stopping expected half-way: half the steps and evaluations.
    half = run_seconds(CONFIG, 160, 40, measured, steps_fraction=0.5)
    assert half == pytest.approx(2 + 160 * 4 / 40 + 6 * evaluation + 3)
    # Never before patience + 1 evaluations; without early stopping, the whole schedule.
    assert run_seconds(CONFIG, 160, 40, measured, steps_fraction=0.1) == pytest.approx(half)
    no_stop = CONFIG.replace(early_stopping_patience=0)
    assert run_seconds(no_stop, 160, 40, measured, steps_fraction=0.5) == seconds


def test_the_prior_of_the_live_eta_comes_from_the_same_rates():
    measured = Rates("small", 32.0, 100.0, 5.0, 2.0, 3.0, steps_fraction=0.6, eval_fixed_s=0.5)
    expected = prior(CONFIG, 160, 40, measured)
    assert expected.step_s == pytest.approx(16 / 32)
    assert expected.eval_s == pytest.approx(0.5 + work_texts(200, 2) / 100)
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
    # Each run ahead, on a CPU, computes its map before the next one starts.
    waits = 120 + time_left(store.get(queued.id), store) + 2 * MAP_S_DEFAULT
    assert guess.queue_s == pytest.approx(waits, abs=2)
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


# -- what grows with the number of labels -------------------------------------------------------


def test_an_evaluation_of_many_labels_takes_longer_than_one_of_two():
    measured = Rates("small", 40.0, 200.0, 5.0, 2.0, 3.0, steps_fraction=1.0, eval_fixed_s=1.0)
    # The head's fit and scores grow with texts x labels: at 150 labels a tenth of the encode.
    two, many = measured.eval_s(1000, labels=2), measured.eval_s(1000, labels=150)
    assert two == pytest.approx(1 + work_texts(1000, 2) / 200)
    assert 1.1 < (many - 1) / (1000 / 200) < 1.2
    # A run's every evaluation (the baseline, 8 in the finetune, the head) counts it.
    gained = run_seconds(CONFIG, 160, 40, measured, labels=150) - run_seconds(
        CONFIG, 160, 40, measured, labels=2
    )
    assert gained == pytest.approx(10 * (work_texts(200, 150) - work_texts(200, 2)) / 200)


def test_the_estimate_counts_the_labels_it_is_given(tmp_path):
    store = RunStore(tmp_path / "runs")
    two = estimate(CONFIG, 600, 150, store, labels=2)
    many = estimate(CONFIG, 600, 150, store, labels=150)
    assert many.seconds > two.seconds
    assert many.low < many.seconds < many.high


def test_a_queued_run_counts_its_label_name_rows_and_labels(tmp_path):
    store = RunStore(tmp_path / "runs")
    data = intents(40)  # 40 labels whose names are words: 40 more training rows
    record, _ = store.create(CONFIG, data)
    n_train = finetune_rows(len(data.train), data.classes, CONFIG.label_names)
    assert n_train == len(data.train) + 40
    # At the precision the queued run will train at here (bf16 on a bf16 CPU).
    measured = rates(store, "small", multi_label=False, precision=run_precision(CONFIG, "cpu"))
    expected = run_seconds(CONFIG, n_train, len(data.valid), measured, labels=40)
    assert time_left(store.get(record.id), store) == pytest.approx(measured.startup_s + expected)


def test_runs_of_many_labels_give_the_encode_pace_net_of_their_heads(tmp_path):
    store = RunStore(tmp_path / "runs")
    # Evaluations of 2 and 40 labels at 100 texts a second, 0.5 s fixed, each with its head.
    for seed, (texts, data) in enumerate([(100, tiny_dataset()), (400, intents(40))]):
        labels = len(data.classes)
        seconds = 0.5 + work_texts(texts, labels) / 100
        finished(store, seed, timing(texts=texts, encode_per_s=texts / seconds), data=data)
    measured = rates(store, "small")
    assert measured.encode_texts_per_s == pytest.approx(100.0)
    assert measured.eval_fixed_s == pytest.approx(0.5)


def test_the_share_of_the_schedule_comes_from_runs_of_the_same_kind(tmp_path):
    store = RunStore(tmp_path / "runs")
    assert rates(store, "small", multi_label=True).steps_fraction == MULTI_STEPS_FRACTION_DEFAULT
    assert rates(store, "small", multi_label=False).steps_fraction == STEPS_FRACTION_DEFAULT
    finished(store, 1, timing(steps_fraction=0.5))
    # Single-label runs that stopped half-way say nothing of a multi-label finetune.
    assert rates(store, "small", multi_label=True).steps_fraction == MULTI_STEPS_FRACTION_DEFAULT
    assert rates(store, "small", multi_label=False).steps_fraction == 0.5
    finished(store, 2, timing(steps_fraction=1.0), data=topics_multi())
    assert rates(store, "small", multi_label=True).steps_fraction == 1.0
    assert rates(store, "small").steps_fraction == 0.75  # the kind unsaid: every run
    multi = estimate(CONFIG, 400, 100, store, labels=3, multi_label=True)
    single = estimate(CONFIG, 400, 100, store, labels=3)
    assert multi.seconds > single.seconds


def test_the_map_each_finished_run_took_is_the_wait_for_the_next(tmp_path):
    store = RunStore(tmp_path / "runs")
    assert rates(store, "small").map_s == MAP_S_DEFAULT
    for seed, after_s in enumerate([12.0, 20.0, 3000.0]):
        record = finished(store, seed, timing())
        path = map_path(store, record.id)
        path.write_text("{}", encoding="utf-8")
        written = datetime.fromisoformat(record.finished_at).timestamp() + after_s
        os.utime(path, (written, written))
    # The third map came 50 min after a 60 s run: a page computed it later, not the worker.
    assert rates(store, "small").map_s == pytest.approx(16.0)
    running, _ = store.create(TrainConfig(seed=9), tiny_dataset())
    store.update(
        running.id,
        status="running",
        started_at=now_iso(),
        device={"kind": "cpu", "name": "CPU"},
        progress=Progress(phase="finetune", step=5, total=10, eta_s=100.0, updated_at=now_iso()),
    )
    assert estimate(CONFIG, 400, 100, store).queue_s == pytest.approx(100 + 16.0, abs=2)
    store.update(running.id, device={"kind": "cuda", "name": "GPU"})
    assert estimate(CONFIG, 400, 100, store).queue_s == pytest.approx(100, abs=2)


def test_bf16_runs_and_fp32_runs_each_set_only_their_own_pace(tmp_path):
    store = RunStore(tmp_path / "runs")
    for seed in range(2):
        finished(store, seed, timing(examples_per_s=40.0, encode_per_s=200.0))
        finished(
            store, 10 + seed, timing(examples_per_s=60.0, encode_per_s=360.0), precision="bf16"
        )
    fp32, bf16 = rates(store, "small"), rates(store, "small", precision="bf16")
    assert (fp32.train_examples_per_s, fp32.runs) == (40.0, 2)
    assert (bf16.train_examples_per_s, bf16.runs) == (60.0, 2)
    # Paces net of the head's work for the tiny data's 3 labels (work_texts).
    assert fp32.encode_texts_per_s == pytest.approx(200.0 * work_texts(100, 3) / 100)
    assert bf16.encode_texts_per_s == pytest.approx(360.0 * work_texts(100, 3) / 100)
    assert fp32.source == "measured by 2 finished runs of the small model here"
    assert bf16.source == "measured by 2 finished runs of the small model here at bf16"


def test_without_a_bf16_run_the_catalogue_figures_are_sped_up_and_said_so(tmp_path):
    store = RunStore(tmp_path / "runs")
    finished(store, 0, timing(examples_per_s=40.0))  # an fp32 run never sets bf16's pace
    bf16 = rates(store, "small", precision="bf16")
    spec = CATALOGUE["small"]
    assert bf16.runs == 0
    assert bf16.train_examples_per_s == pytest.approx(
        spec.train_examples_per_s_cpu * BF16_TRAIN_SPEEDUP
    )
    assert bf16.encode_texts_per_s == pytest.approx(spec.encode_per_s_cpu * BF16_ENCODE_SPEEDUP)
    assert bf16.source == (
        "from the catalogue's CPU figures for the small model, sped up by bf16's measured "
        "speed-up (no finished run at bf16 to measure yet)"
    )


def test_the_estimate_of_a_run_follows_the_precision_it_will_train_at(tmp_path):
    store = RunStore(tmp_path / "runs")
    for seed in range(2):
        finished(store, seed, timing(examples_per_s=40.0, encode_per_s=200.0))
        finished(
            store, 10 + seed, timing(examples_per_s=80.0, encode_per_s=400.0), precision="bf16"
        )
    off = estimate(TrainConfig(precision="fp32"), 400, 100, store)
    auto = estimate(TrainConfig(precision="auto"), 400, 100, store)
    assert off.source == "measured by 2 finished runs of the small model here"
    if cpu_supports_bf16():  # "auto" trains in bf16 here: the bf16 runs set its pace
        assert auto.source.endswith(" at bf16")
        assert auto.seconds < off.seconds
    else:  # a CPU without bf16 trains in fp32 whatever the setting
        assert auto == off

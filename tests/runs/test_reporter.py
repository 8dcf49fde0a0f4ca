"""The worker's reporter: where it expects early stopping to end a finetune, and the time left it
writes into the run record."""

from __future__ import annotations

import dataclasses

from core.config import TrainConfig
from core.runs.store import RunStore
from core.runs.worker import RunReporter
from tests.helpers import tiny_dataset


def reporter(tmp_path, **config) -> RunReporter:
    store = RunStore(tmp_path / "runs")
    record, _ = store.create(TrainConfig(**config), tiny_dataset())
    return RunReporter(store, record.id, record=record)


def test_early_stopping_is_expected_no_sooner_than_the_best_evaluation_plus_the_patience(
    tmp_path,
):
    # 18 training rows, batch 2: 9 steps an epoch, an evaluation each epoch, 10 epochs.
    r = reporter(tmp_path, epochs=10, batch_size=2, early_stopping_patience=3)
    r.prior = dataclasses.replace(r.prior, steps_fraction=0.5)
    assert r.plan.eval_steps == 9 and r.plan.max_steps == 90
    assert r._expected_stop(90) == 45  # half the schedule, as past runs ran
    r.phase("finetune")
    for evaluation, f1 in enumerate([0.5, 0.6, 0.7, 0.8, 0.9], start=1):
        r.step(9 * evaluation, 90)
        r.evaluation({"step": 9 * evaluation, "epoch": evaluation, "metrics": {"macro_f1": f1}})
    # Still gaining at evaluation 5: it runs at least to evaluation 5 + 3.
    assert r._expected_stop(90) == 72
    assert r.store.get(r.run_id).progress.eta_s > 0


def test_without_early_stopping_the_whole_schedule_is_expected(tmp_path):
    r = reporter(tmp_path, epochs=4, batch_size=2, early_stopping_patience=0)
    assert r._expected_stop(r.plan.max_steps) == r.plan.max_steps

"""The worker's reporter: where it expects early stopping to end a finetune, and the time left it
writes into the run record."""

from __future__ import annotations

import dataclasses

from core.config import TrainConfig
from core.runs.progress import RunReporter
from core.runs.store import RunStore
from tests.helpers import tiny_dataset


def reporter(tmp_path, **config) -> RunReporter:
    store = RunStore(tmp_path / "runs")
    # Without the label names' rows the schedule is the training rows' alone (18: plain figures).
    record, _ = store.create(TrainConfig(**{"label_names": False, **config}), tiny_dataset())
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
    # No gain at evaluation 6: levelling off, it is expected to stop when the patience runs out.
    r.step(54, 90)
    r.evaluation({"step": 54, "epoch": 6, "metrics": {"macro_f1": 0.85}})
    assert r._expected_stop(90) == 72
    r.prior = dataclasses.replace(r.prior, steps_fraction=1.0)
    assert r._expected_stop(90) == 72  # past runs ran their whole schedule; this one levelled off
    # Early stopping may still end it at evaluation 8 or let it run all 10: the ETA lies between.
    soonest, latest = r.eta_range(0.0)
    assert soonest == r.eta(0.0, 72) < latest == r.eta(0.0, 90)
    assert soonest <= r.eta(0.0) <= latest
    assert r.store.get(r.run_id).progress.eta_range_s is not None


def test_without_early_stopping_the_whole_schedule_is_expected(tmp_path):
    r = reporter(tmp_path, epochs=4, batch_size=2, early_stopping_patience=0)
    assert r._expected_stop(r.plan.max_steps) == r.plan.max_steps
    assert r.eta_range(0.0) is None  # the end is known


def test_a_multi_label_run_is_expected_to_stop_by_its_micro_f1_as_early_stopping_watches(tmp_path):
    from core.data.multilabel import from_label_sets
    from core.quality.prepare import prepare_dataset
    from tests.helpers import tiny_multilabel_rows

    rows = tiny_multilabel_rows(12)
    data = prepare_dataset(from_label_sets([t for t, _ in rows], [list(s) for _, s in rows]))
    store = RunStore(tmp_path / "runs")
    record, _ = store.create(TrainConfig(epochs=10, batch_size=2), data)
    r = RunReporter(store, record.id, record=record)
    r.prior = dataclasses.replace(r.prior, steps_fraction=1.0)
    every = r.plan.eval_steps
    r.phase("finetune")
    # Micro-F1 levels off after the first evaluation while macro-F1 still climbs.
    for evaluation, (micro, macro) in enumerate([(0.8, 0.5), (0.7, 0.6)], start=1):
        r.step(every * evaluation, r.plan.max_steps)
        metrics = {"f1": micro, "macro_f1": macro}
        r.evaluation({"step": every * evaluation, "epoch": evaluation, "metrics": metrics})
    assert r.plan.max_steps > 4 * every
    assert r._expected_stop(r.plan.max_steps) == 4 * every


def test_the_label_names_count_in_the_schedule_the_estimates_use(tmp_path):
    # tiny_dataset: 18 training rows over food, sport and tech; batch 2.
    plain = reporter(tmp_path / "a", epochs=1, batch_size=2)
    named = reporter(tmp_path / "b", epochs=1, batch_size=2, label_names=True)
    assert (plain.n_train, named.n_train) == (18, 21)
    assert (plain.plan.max_steps, named.plan.max_steps) == (9, 11)

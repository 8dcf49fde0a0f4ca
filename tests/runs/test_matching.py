"""Which runs were trained on a data set: the same rows however split, never other data."""

from __future__ import annotations

import dataclasses

from core.config import TrainConfig
from core.data.labeled import LabeledTexts, TrainingData, split
from core.runs.matching import rows_fingerprint, runs_of, trained_on
from core.runs.store import RunStore
from tests.helpers import tiny_pairs


def test_runs_of_a_data_set_are_those_of_its_rows_however_split(tmp_path):
    store = RunStore(tmp_path / "runs")
    rows = LabeledTexts.from_pairs(tiny_pairs(8), name="reviews.csv")
    first = split(rows, seed=0)
    other_split = split(rows, seed=1)
    other_data = split(LabeledTexts.from_pairs(tiny_pairs(9)), seed=0)
    a, _ = store.create(TrainConfig(), first)
    b, _ = store.create(TrainConfig(seed=1), other_split)
    c, _ = store.create(TrainConfig(), other_data)
    assert rows_fingerprint(first) == rows_fingerprint(other_split) == rows_fingerprint(rows)
    assert {r.id for r in runs_of(first, store)} == {a.id, b.id}
    assert {r.id for r in runs_of(rows, store)} == {a.id, b.id}
    assert {r.id for r in runs_of(TrainingData(rows), store)} == {a.id, b.id}
    assert [r.id for r in runs_of(other_data, store)] == [c.id]
    assert trained_on(a, other_split) and trained_on(b, rows) and not trained_on(c, first)


def test_a_run_recorded_before_the_rows_print_matches_its_exact_data_set(tmp_path):
    store = RunStore(tmp_path / "runs")
    dataset = split(LabeledTexts.from_pairs(tiny_pairs(8)), seed=0)
    record, _ = store.create(TrainConfig(), dataset)
    store.update(record.id, data=dataclasses.replace(record.data, rows_fingerprint=None))
    assert [r.id for r in runs_of(dataset, store)] == [record.id]
    assert runs_of(split(LabeledTexts.from_pairs(tiny_pairs(8)), seed=3), store) == []

"""Tiny data and settings for engine tests that train for real (seconds, not minutes)."""

from __future__ import annotations

import time

from core.config import TrainConfig
from core.data.labeled import DataSet, LabeledTexts, split
from core.runs.store import RunRecord, RunStore

# One epoch of a few batches with short sequences: enough to exercise every phase.
TINY = {"epochs": 1, "batch_size": 8, "max_seq_length": 32, "device": "cpu"}

_TOPICS = {
    "sport": ["the match went to extra time", "she scored twice", "the coach was sacked"],
    "food": ["the soup was too salty", "fresh bread every morning", "a spicy curry"],
    "tech": ["the laptop overheats", "a new phone update", "the app keeps crashing"],
}


def tiny_dataset(per_label: int = 8, seed: int = 0) -> DataSet:
    pairs = []
    for i in range(per_label):
        for label, texts in _TOPICS.items():
            pairs.append((f"{texts[i % len(texts)]} ({i})", label))
    return split(LabeledTexts.from_pairs(pairs, name="tiny.csv"), valid_fraction=0.25, seed=seed)


def tiny_config(**changes: object) -> TrainConfig:
    return TrainConfig().replace(**{**TINY, **changes})


def wait_for(store: RunStore, run_id: str, condition, timeout_s: float = 180) -> RunRecord:
    """Poll a run until `condition(record)` holds; fail if it ends (or times out) before."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = store.get(run_id)
        if condition(record):
            return record
        assert record.active, f"run ended early: {record.status} {record.error}"
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached the expected state")

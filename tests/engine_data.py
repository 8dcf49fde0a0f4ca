"""Tiny data and settings for engine tests that train for real (seconds, not minutes)."""

from __future__ import annotations

from core.config import TrainConfig
from core.data import DataSet, LabeledTexts, split

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

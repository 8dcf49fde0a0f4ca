"""The print of a data set's labelled rows: the same rows give the same print, however they are
ordered or split (a run's record keeps it; core.runs.matching finds a data set's runs by it)."""

from __future__ import annotations

import hashlib
import json

from core.data.labeled import DataSet, LabeledTexts, TrainingData

Data = DataSet | TrainingData | LabeledTexts


def rows_fingerprint(data: Data) -> str:
    """sha256 of the (text, label) rows as a sorted multiset: the same rows give the same print
    whatever their order or split into training and validation."""
    if isinstance(data, LabeledTexts):
        parts = [data]
    else:
        parts = [data.train] + ([data.valid] if data.valid is not None else [])
    rows = sorted(
        json.dumps([text, label], ensure_ascii=False)
        for part in parts
        for text, label in zip(part.texts, part.labels, strict=True)
    )
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()

"""Which runs were trained on a data set: the same labelled rows, however they were split."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from core.data.labeled import DataSet, LabeledTexts, TrainingData

if TYPE_CHECKING:
    from core.runs.store import RunRecord, RunStore


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


def runs_of(data: Data, store: RunStore) -> list[RunRecord]:
    """The readable runs trained on these rows, newest first (a run recorded before the rows'
    print was kept matches on its exact data set instead)."""
    from core.runs.store import RunRecord

    rows = rows_fingerprint(data)
    exact = data.fingerprint() if isinstance(data, DataSet) else None
    return [
        r
        for r in store.list()
        if isinstance(r, RunRecord)
        and (
            r.data.get("rows_fingerprint") == rows
            if "rows_fingerprint" in r.data
            else r.data.get("fingerprint") == exact
        )
    ]

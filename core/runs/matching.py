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


def trained_on(record: RunRecord, data: Data) -> bool:
    """Whether a run was trained on these rows, however they were split."""
    return _matches(record, rows_fingerprint(data), _exact(data))


def runs_of(data: Data, store: RunStore) -> list[RunRecord]:
    """The readable runs trained on these rows, newest first."""
    from core.runs.store import RunRecord

    rows, exact = rows_fingerprint(data), _exact(data)
    return [r for r in store.list() if isinstance(r, RunRecord) and _matches(r, rows, exact)]


def _exact(data: Data) -> str | None:
    return data.fingerprint() if isinstance(data, DataSet) else None


def _matches(record: RunRecord, rows: str, exact: str | None) -> bool:
    """The rows' print decides; a run recorded before the print was kept matches on its exact
    data set instead."""
    if "rows_fingerprint" in record.data:
        return record.data["rows_fingerprint"] == rows
    return exact is not None and record.data.get("fingerprint") == exact

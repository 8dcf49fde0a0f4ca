"""Which runs were trained on a data set: the same labelled rows, however they were split."""

from __future__ import annotations

from core.data.labeled import DataSet
from core.runs.fingerprint import Data, rows_fingerprint
from core.runs.store import RunRecord, RunStore

__all__ = ["rows_fingerprint", "runs_of", "trained_on"]


def trained_on(record: RunRecord, data: Data) -> bool:
    """Whether a run was trained on these rows, however they were split."""
    return _matches(record, rows_fingerprint(data), _exact(data))


def runs_of(data: Data, store: RunStore) -> list[RunRecord]:
    """The readable runs trained on these rows, newest first."""
    rows, exact = rows_fingerprint(data), _exact(data)
    return [r for r in store.list() if isinstance(r, RunRecord) and _matches(r, rows, exact)]


def _exact(data: Data) -> str | None:
    return data.fingerprint() if isinstance(data, DataSet) else None


def _matches(record: RunRecord, rows: str, exact: str | None) -> bool:
    """The rows' print decides; a run recorded before the print was kept matches on its exact
    data set instead."""
    if record.data.rows_fingerprint is not None:
        return record.data.rows_fingerprint == rows
    return exact is not None and record.data.fingerprint == exact

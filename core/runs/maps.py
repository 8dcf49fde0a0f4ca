"""A run's before/after map of its validation texts, computed once and kept in the run's folder:
by the worker right after the run completes, or in the background the first time an older run's
map is opened. Opening it again is instant."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from core.data.inputs import MAX_TEXTS
from core.errors import EmbedtuneError
from core.io import atomic_write_text
from core.model.maps import ComparisonMaps, first_labels
from core.runs.store import RunRecord, RunStore
from core.train.metrics import label_text

log = logging.getLogger("embedtune.maps")
MAP_FILE = "map.json"
MAP_LOCK = "map.lock"  # held while a process computes the map (like worker.lock)


def map_path(store: RunStore, run_id: str) -> Path:
    return store.path(run_id) / MAP_FILE


def load_run_map(store: RunStore, run_id: str) -> ComparisonMaps | None:
    """The run's kept map, or None when it has not been computed (or cannot be read)."""
    try:
        maps = ComparisonMaps.from_dict(json.loads(map_path(store, run_id).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # A map kept before it said which heads marked its errors was marked by the served head,
    # which had learnt from these very texts: computed again.
    return maps if maps.scored_by else None


def map_in_progress(store: RunStore, run_id: str) -> bool:
    """Whether a process is computing the run's map now."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(store.path(run_id) / MAP_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def build_run_map(store: RunStore, run_id: str) -> ComparisonMaps | None:
    """Compute and keep the map of a completed run's validation texts (the first MAX_TEXTS):
    both models embed them, UMAP places them, each model's head marks its errors. Returns the
    kept map; None when another process is computing it right now."""
    from filelock import FileLock, Timeout

    from core.model.classifier import load_embedder
    from core.model.maps import compare_maps
    from core.runs.resolve import load_run

    lock = FileLock(str(store.path(run_id) / MAP_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    try:
        kept = load_run_map(store, run_id)
        if kept is not None:
            return kept
        record = store.get(run_id)
        dataset = store.load_dataset(run_id)
        valid = dataset.valid
        texts = valid.texts[:MAX_TEXTS]
        kept_rows = _validation_predictions(record, len(valid))
        truth = None
        if kept_rows and record.final is not None:
            # A row's labels as one cell ("a|b"): the map shows them and compares them whole.
            truth = tuple(label_text(y) for y in record.final.y_true[:MAX_TEXTS])
        maps = compare_maps(
            load_embedder(record.config.base_model),
            load_run(run_id, store),
            texts,
            first_labels(valid)[:MAX_TEXTS],  # multi-label: coloured by the first label
            train=dataset.train,
            config=record.config,
            predicted=kept_rows and (kept_rows[0][:MAX_TEXTS], kept_rows[1][:MAX_TEXTS]),
            scored_by=SCORED_ON_VALIDATION if kept_rows else SCORED_BY_SERVED_HEAD,
            truth=truth,
        )
        atomic_write_text(map_path(store, run_id), json.dumps(maps.to_dict()))
        return maps
    finally:
        lock.release()


SCORED_ON_VALIDATION = (
    "Errors as on the Metrics page: each model's head learnt from the training rows only, "
    "never from these validation texts."
)
SCORED_BY_SERVED_HEAD = (
    "Errors marked by the served head, which also learnt from these validation texts (this run "
    "kept no per-text validation predictions): they are fewer than the Metrics page counts."
)


def _validation_predictions(
    record: RunRecord, n: int
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The base model's and the finetune's predictions of each validation text, as their
    train-only heads made them when the run was scored; None for a run that kept none."""
    base, final = record.baseline, record.final
    if base is None or final is None or not (len(base.y_pred) == len(final.y_pred) == n):
        return None
    return tuple(map(label_text, base.y_pred)), tuple(map(label_text, final.y_pred))


def build_quietly(store: RunStore, run_id: str) -> None:
    """build_run_map for a background thread or the worker: a failure is logged, never raised
    (the map is a picture; the run is complete without it, and the page can compute it)."""
    try:
        build_run_map(store, run_id)
    except (EmbedtuneError, OSError, ValueError) as exc:
        log.warning("the map of run %s was not computed: %s", run_id, exc)

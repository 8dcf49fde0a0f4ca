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
from core.runs.store import RunStore

log = logging.getLogger("embedtune.maps")
MAP_FILE = "map.json"
MAP_LOCK = "map.lock"  # held while a process computes the map (like worker.lock)


def map_path(store: RunStore, run_id: str) -> Path:
    return store.path(run_id) / MAP_FILE


def load_run_map(store: RunStore, run_id: str) -> ComparisonMaps | None:
    """The run's kept map, or None when it has not been computed (or cannot be read)."""
    try:
        return ComparisonMaps.from_dict(json.loads(map_path(store, run_id).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
        maps = compare_maps(
            load_embedder(record.config.base_model),
            load_run(run_id, store),
            valid.texts[:MAX_TEXTS],
            first_labels(valid)[:MAX_TEXTS],  # multi-label: coloured by the first label
            train=dataset.train,
            config=record.config,
        )
        atomic_write_text(map_path(store, run_id), json.dumps(maps.to_dict()))
        return maps
    finally:
        lock.release()


def build_quietly(store: RunStore, run_id: str) -> None:
    """build_run_map for a background thread or the worker: a failure is logged, never raised
    (the map is a picture; the run is complete without it, and the page can compute it)."""
    try:
        build_run_map(store, run_id)
    except (EmbedtuneError, OSError, ValueError) as exc:
        log.warning("the map of run %s was not computed: %s", run_id, exc)

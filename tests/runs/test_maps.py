"""A run's map is computed once, kept in its folder and read back; one process computes it."""

import pytest
from filelock import FileLock

from core.runs.maps import MAP_FILE, MAP_LOCK, build_run_map, load_run_map, map_in_progress

pytestmark = pytest.mark.slow


def test_the_map_is_computed_once_and_kept(run_copy):
    store, run_id = run_copy.store, run_copy.run_id
    (store.path(run_id) / MAP_FILE).unlink(missing_ok=True)
    assert load_run_map(store, run_id) is None and not map_in_progress(store, run_id)
    built = build_run_map(store, run_id)
    valid = store.load_dataset(run_id).valid
    assert built is not None and built.texts == valid.texts and built.labels == valid.labels
    kept = load_run_map(store, run_id)
    assert kept is not None and kept.texts == built.texts
    assert kept.base.shape == (len(valid), 2) and kept.tuned_predicted == built.tuned_predicted
    assert abs(kept.tuned - built.tuned).max() < 1e-3  # rounded to 4 decimals


def test_a_map_being_computed_elsewhere_is_not_computed_twice(run_copy):
    store, run_id = run_copy.store, run_copy.run_id
    (store.path(run_id) / MAP_FILE).unlink(missing_ok=True)
    with FileLock(str(store.path(run_id) / MAP_LOCK)):
        assert map_in_progress(store, run_id)
        assert build_run_map(store, run_id) is None
    assert not (store.path(run_id) / MAP_FILE).exists()


def test_the_worker_keeps_the_map_of_the_run_it_completed(completed_run):
    """On a CPU the worker computes the map right after the run completes, before it hands the
    device to the next run."""
    import time

    folder = completed_run.root / completed_run.run_id
    deadline = time.monotonic() + 120
    while not (folder / MAP_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert (folder / MAP_FILE).exists()
    log = (folder / "log.txt").read_text(encoding="utf-8")
    assert log.index("completed") < log.index("computing the map") < log.index("map computed")

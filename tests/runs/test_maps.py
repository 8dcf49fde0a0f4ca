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


def test_the_map_counts_the_errors_the_metrics_count(run_copy):
    """The served head also learnt from the validation texts; the map marks errors with the
    heads that did not (the run's measured ones), so its count is the Metrics page's."""
    from core.runs.maps import SCORED_ON_VALIDATION

    store, run_id = run_copy.store, run_copy.run_id
    (store.path(run_id) / MAP_FILE).unlink(missing_ok=True)
    maps = build_run_map(store, run_id)
    record = store.get(run_id)
    assert maps is not None and maps.scored_by == SCORED_ON_VALIDATION
    for which, evaluation in (("tuned", record.final), ("base", record.baseline)):
        wrong = sum(1 for row in maps.rows(which) if row["correct"] is False)
        expected = sum(t != p for t, p in zip(evaluation.y_true, evaluation.y_pred, strict=True))
        assert wrong == expected, which


def test_a_map_kept_before_it_named_its_heads_is_computed_again(run_copy):
    import json

    store, run_id = run_copy.store, run_copy.run_id
    build_run_map(store, run_id)
    path = store.path(run_id) / MAP_FILE
    stored = json.loads(path.read_text())
    del stored["scored_by"]
    path.write_text(json.dumps(stored))
    assert load_run_map(store, run_id) is None


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


def test_a_multi_label_map_counts_a_text_right_only_with_all_its_labels(multilabel_run, tmp_path):
    import shutil

    from core.runs.store import RunStore
    from core.train.metrics import label_text

    root = tmp_path / "runs"
    shutil.copytree(multilabel_run.root, root)
    store = RunStore(root)
    maps = build_run_map(store, multilabel_run.run_id)
    final = store.get(multilabel_run.run_id).final
    # The map shows each row's labels as one cell, and counts a row right only with all of them.
    assert maps is not None and maps.truth == ("food", "food|sport", "sport", "tech", "sport|tech")
    assert maps.truth == tuple(label_text(y) for y in final.y_true)
    wrong = sum(1 for row in maps.rows("tuned") if row["correct"] is False)
    assert wrong == sum(t != p for t, p in zip(final.y_true, final.y_pred, strict=True))

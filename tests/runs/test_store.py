"""The run store: ids, round trips, the run cache, broken runs, dead workers, storage errors."""

from __future__ import annotations

import json
import time

import pytest

from core.config import TrainConfig
from core.data.labeled import LabeledTexts, split
from core.errors import RunError, StorageError
from core.runs.resolve import load_run
from core.runs.store import (
    MODEL_DIR,
    RUN_FILE,
    BrokenRun,
    Progress,
    RunStore,
    compute_run_id,
    validate_run_id,
)
from core.train.metrics import evaluate_predictions
from tests.helpers import (
    completed_without_model,
)


@pytest.fixture
def dataset():
    pairs = [(f"good thing {i}", "pos") for i in range(5)] + [
        (f"bad thing {i}", "neg") for i in range(5)
    ]
    return split(LabeledTexts.from_pairs(pairs, name="tiny.csv"), seed=0)


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_run_id_comes_from_data_and_settings(dataset):
    config = TrainConfig()
    assert compute_run_id(config, dataset) == compute_run_id(TrainConfig(), dataset)
    assert compute_run_id(config, dataset) == compute_run_id(config.replace(device="cpu"), dataset)
    assert compute_run_id(config.replace(seed=1), dataset) != compute_run_id(config, dataset)
    other = split(LabeledTexts.from_pairs([("x", "a"), ("y", "b"), ("z", "a"), ("w", "b")]))
    assert compute_run_id(config, other) != compute_run_id(config, dataset)


@pytest.mark.parametrize("bad", ["../etc", "/abs/path", "a/b", "", "UPPER", "a" * 65, "..", "x y"])
def test_run_ids_that_could_escape_the_runs_folder_are_refused(store, bad):
    with pytest.raises(RunError, match="^invalid run id"):
        store.path(bad)
    with pytest.raises(RunError):
        validate_run_id(bad)


def test_create_writes_a_record_that_round_trips_with_its_data(store, dataset):
    record, created = store.create(TrainConfig(), dataset)
    assert created and record.status == "queued"
    assert store.load_dataset(record.id) == dataset
    evaluation = evaluate_predictions(["pos", "neg"], ["pos", "pos"], ["neg", "pos"])
    store.update(
        record.id,
        pid=None,
        final=evaluation,
        progress=Progress(phase="finetune", step=3, total=10),
        history=({"step": 0, "epoch": 0.0, "metrics": evaluation.metrics.to_dict()},),
    )
    raw = json.loads((store.path(record.id) / RUN_FILE).read_text())
    assert raw["format_version"] == 2 and raw["config"] == TrainConfig().to_dict()
    again = store._read_raw(record.id)
    assert again.final == evaluation and again.progress.fraction == pytest.approx(0.3)
    assert again.data.train_rows == len(dataset.train) and again.data.classes == ("neg", "pos")
    assert raw["data"]["classes"] == ["neg", "pos"] and raw["data"]["split"]["seed"] == 0


def test_a_version_1_run_loads_through_the_migration(store, dataset):
    """Format 2 dropped three trial settings; a run stored before keeps its id, model and
    figures, and `label_names`, which such runs ran without when they lack it, reads False."""
    record, _ = store.create(TrainConfig(), dataset)
    path = store.path(record.id) / RUN_FILE
    raw = json.loads(path.read_text())
    raw["format_version"] = 1
    raw["config"].pop("label_names")
    raw["config"] |= {"contrastive_weight": 0.5, "dropout_twins": True, "retrain_on_all": False}
    # A summary of its data as runs of that time kept it: no rows print, no multi-label flag.
    raw["data"] = {
        k: v for k, v in raw["data"].items() if k not in ("rows_fingerprint", "multi_label")
    }
    path.write_text(json.dumps(raw))
    again = store._read_raw(record.id)
    assert again.id == record.id and again.format_version == 2
    assert again.config == TrainConfig(label_names=False)
    assert again.data.rows_fingerprint is None and again.data.multi_label is False
    assert again.data.train_rows == record.data.train_rows and again.data.split.seed == 0


def test_a_run_kept_with_multi_label_cells_reads_each_rows_labels_as_a_tuple(store, dataset):
    """Multi-label runs before 2026-12-05 kept each evaluated row's labels as one cell ("a|c")
    in run.json; they load with the tuples the task reads (the paired gains, the errors)."""
    import numpy as np

    from core.train.multilabel import evaluate_multilabel

    final = evaluate_multilabel(
        np.array([[1, 0, 1], [0, 1, 0]]), np.array([[1, 0, 0], [0, 1, 0]]), ["a", "b", "c"]
    )
    record, _ = store.create(TrainConfig(), dataset)
    store.update(record.id, final=final, baseline=final)
    path = store.path(record.id) / RUN_FILE
    raw = json.loads(path.read_text())
    for which in ("final", "baseline"):
        raw[which] |= {"y_true": ["a|c", "b"], "y_pred": ["a", "b"]}
    path.write_text(json.dumps(raw))
    again = store._read_raw(record.id)
    assert again.final == again.baseline == final
    assert again.final.y_true == (("a", "c"), ("b",))


def test_a_run_of_a_newer_format_is_refused_with_what_to_do(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    path = store.path(record.id) / RUN_FILE
    raw = json.loads(path.read_text())
    raw["format_version"] = 3
    path.write_text(json.dumps(raw))
    with pytest.raises(RunError) as caught:
        store._read_raw(record.id)
    assert str(caught.value) == (
        "run format version 3 is not supported (expected 2): it was made by a newer Embedtune; "
        "update this one, or train the run again"
    )


def test_same_finetune_reuses_an_active_or_completed_run_and_replaces_a_failed_one(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    assert store.create(TrainConfig(), dataset) == (store.get(record.id), False)
    store.update(record.id, status="completed")
    (store.path(record.id) / MODEL_DIR).mkdir()
    again, created = store.create(TrainConfig(), dataset)
    assert not created and again.status == "completed"
    store.update(record.id, status="failed", error={"reason": "x"})
    retried, created = store.create(TrainConfig(), dataset)
    assert created and retried.status == "queued" and retried.error is None


def test_an_active_run_whose_worker_is_gone_is_marked_failed_with_its_log(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    (store.path(record.id) / "log.txt").write_text("loading\nstep 3\n")
    # A worker that started long ago and no longer holds its lock.
    store.update(record.id, status="running", pid=2**22 + 7, spawned_at=time.time() - 3600)
    failed = store.get(record.id)
    assert failed.status == "failed"
    assert failed.error["reason"].startswith("the worker process stopped unexpectedly")
    assert failed.error["log_tail"] == ["loading", "step 3"]


def test_a_just_spawned_worker_is_given_time_to_take_its_lock(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    assert store.get(record.id).status == "queued"


def test_broken_runs_are_listed_with_the_reason_and_can_be_deleted(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    store.update(record.id, status="completed")
    (store.path(record.id) / MODEL_DIR).mkdir()
    (store.root / "ft-garbled").mkdir()
    (store.root / "ft-garbled" / RUN_FILE).write_text("{half a file")
    (store.root / "ft-nojson").mkdir()
    runs = {r.id: r for r in store.list()}
    assert runs[record.id].status == "completed"
    assert isinstance(runs["ft-garbled"], BrokenRun)
    assert runs["ft-garbled"].reason.startswith(f"run ft-garbled is broken: its {RUN_FILE} cannot")
    assert runs["ft-nojson"].reason == f"run ft-nojson is broken: its {RUN_FILE} is missing"
    store.delete("ft-garbled")
    store.delete("ft-nojson")
    assert [r.id for r in store.list()] == [record.id]


def test_an_active_run_cannot_be_deleted(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    with pytest.raises(RunError, match="is queued: cancel it before deleting it$"):
        store.delete(record.id)
    with pytest.raises(RunError, match="^no run 'ft-000000000000'"):
        store.delete("ft-000000000000")


def test_cancel_is_a_request_seen_by_the_worker(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    assert not store.cancel_requested(record.id)
    store.request_cancel(record.id)
    assert store.cancel_requested(record.id)


def test_an_unwritable_runs_folder_is_a_clear_error_before_training(tmp_path, dataset):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match=f"^cannot write to the runs folder {blocker}/runs: "):
        RunStore(blocker / "runs").create(TrainConfig(), dataset)


def test_a_full_disk_is_a_clear_error_before_training(store):
    with pytest.raises(StorageError, match="^not enough free disk space in "):
        store.ensure_writable(needed_bytes=10**18)


def test_writes_are_atomic_and_leave_no_temporary_files(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    for step in range(20):
        store.update(record.id, progress=Progress(phase="finetune", step=step, total=20))
    leftovers = [p.name for p in store.path(record.id).iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert [p.name for p in store.root.iterdir() if p.is_dir() and p.name.startswith(".")] == []


def test_a_completed_run_without_its_model_is_broken_not_served(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = completed_without_model(store)
    [listed] = store.list()
    assert isinstance(listed, BrokenRun)
    assert listed.reason == f"run {run_id} is broken: it completed but its model folder is gone"
    with pytest.raises(RunError, match="^no model folder in .*: the run has no finished model$"):
        load_run(run_id, store)
    # Submitting the same finetune again replaces it instead of reusing a run with no model.
    record = store.get(run_id)
    again, created = store.create(record.config, store.load_dataset(run_id))
    assert created and again.status == "queued"


def test_a_run_can_be_named_and_renamed_without_changing_its_id(store, dataset):
    record, _ = store.create(TrainConfig(), dataset, name="  first   try ")
    assert record.name == "first try" and record.title == "first try"
    assert record.id == compute_run_id(TrainConfig(), dataset)
    renamed = store.rename(record.id, "emotion, 8 epochs")
    assert renamed.id == record.id and store.get(record.id).name == "emotion, 8 epochs"
    assert store.rename(record.id, "").title == record.id  # cleared: the id shows
    # The same finetune submitted again with a name: the run is reused and takes the name.
    again, created = store.create(TrainConfig(), dataset, name="second")
    assert not created and again.id == record.id and store.get(record.id).name == "second"


def test_a_run_name_must_be_one_short_line_of_plain_text(store, dataset):
    record, _ = store.create(TrainConfig(), dataset)
    with pytest.raises(RunError, match="^a run name can be at most 60 characters; this one has 61"):
        store.rename(record.id, "x" * 61)
    with pytest.raises(RunError, match="^a run name must be plain text: remove the control"):
        store.rename(record.id, "bell\x07")
    assert store.rename(record.id, "two\nlines").name == "two lines"  # whitespace is folded
    with pytest.raises(RunError, match="^no run 'ft-000000000000'"):
        store.rename("ft-000000000000", "x")

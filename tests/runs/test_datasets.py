"""Reviewed data sets kept in the workspace by key: saved once, read back whole, bad keys and
lost files refused with a message."""

import pytest

from core.data.cleaning import CleaningConfig
from core.data.labeled import LabeledTexts, TrainingData
from core.errors import DataError, StorageError
from core.runs.datasets import DATA_DIR, SavedData, load_data, save_data
from core.runs.store import RunStore
from tests.helpers import tiny_pairs


def saved(**changes) -> SavedData:
    data = TrainingData(LabeledTexts.from_pairs(tiny_pairs(6), name="reviews.csv"))
    return SavedData(data, **changes)


def test_a_saved_data_set_reads_back_whole(tmp_path):
    store = RunStore(tmp_path / "runs")
    original = saved(cleaning=CleaningConfig(urls=True), label_choices={3: "relabel", 5: "drop"})
    key = save_data(store, original)
    back = load_data(store, key)
    assert back.data == original.data and back.cleaning == original.cleaning
    assert back.label_choices == {3: "relabel", 5: "drop"} and back.saved_at
    assert back.key == key and store.list() == []  # never listed as a run
    assert save_data(store, original) == key  # the same data is one file
    assert len(list((store.root / DATA_DIR).iterdir())) == 1


def test_the_key_depends_on_the_rows_the_cleaning_and_the_choices():
    keys = {
        saved().key,
        saved(cleaning=CleaningConfig(html=True)).key,
        saved(label_choices={3: "drop"}).key,
        SavedData(saved().data.__class__(saved().data.train, valid_fraction=0.3)).key,
    }
    assert len(keys) == 4


def test_bad_keys_and_lost_data_sets_are_refused(tmp_path):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(DataError, match="invalid data set key '../x'"):
        load_data(store, "../x")
    with pytest.raises(DataError, match="is no longer in .*: load the file again"):
        load_data(store, "0123456789abcdef")


def test_a_workspace_that_cannot_take_it_says_why(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be")
    with pytest.raises(StorageError, match="cannot write to the runs folder"):
        save_data(RunStore(blocker), saved())

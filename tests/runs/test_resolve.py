"""core.runs.resolve: what a model name means, and the one message for each name that cannot be
used (no such run, a run not completed, a base model asked to classify, an invalid name)."""

from __future__ import annotations

import pytest

from core.errors import RunError
from core.model.classifier import Classifier, Embedder
from core.runs.resolve import UnknownModel, load, load_run, resolve
from core.runs.store import RunStore
from tests.helpers import tiny_config, tiny_dataset


def test_a_base_model_embeds(tmp_path):
    ref = resolve("small", RunStore(tmp_path))
    assert (ref.source, ref.location, ref.name, ref.classifies) == ("base", "small", "small", False)
    assert isinstance(load(ref, device="cpu"), Embedder)


def test_a_base_model_cannot_classify(tmp_path):
    with pytest.raises(RunError) as caught:
        resolve("small", RunStore(tmp_path), classify=True)
    assert not isinstance(caught.value, UnknownModel)
    assert str(caught.value) == (
        "'small' is a base model: it embeds but cannot classify; pass the id of a completed run"
    )


@pytest.mark.parametrize("name", ["../../etc", "ft-x/../../etc", "A", ""])
def test_a_name_that_is_neither_is_refused_before_any_path(tmp_path, name):
    with pytest.raises(RunError, match=f"invalid model {name!r}: expected a run id"):
        resolve(name, RunStore(tmp_path))


def test_an_unknown_run(tmp_path):
    with pytest.raises(UnknownModel) as caught:
        resolve("ft-000000000000", RunStore(tmp_path))
    assert str(caught.value) == f"unknown model 'ft-000000000000': no such run in {tmp_path}"


def test_only_a_completed_run_can_be_used(tmp_path):
    store = RunStore(tmp_path)
    record, _ = store.create(tiny_config(), tiny_dataset())  # queued: no worker was started
    store.update(record.id, pid=None, spawned_at=None)
    with pytest.raises(UnknownModel) as caught:
        resolve(record.id, store)
    # A queued run without a worker is found dead on the way and marked failed.
    assert str(caught.value) == f"run {record.id} is failed: only a completed run can be used"


def test_a_completed_run_classifies(completed_run):
    ref = resolve(completed_run.run_id, completed_run.store, classify=True)
    record = completed_run.store.get(completed_run.run_id)
    assert (ref.source, ref.name, ref.finished_at) == ("run", record.id, record.finished_at)
    assert ref.location == str(completed_run.store.path(record.id).resolve())
    classifier = load_run(completed_run.run_id, completed_run.store, device="cpu")
    assert isinstance(classifier, Classifier)
    assert list(classifier.classes_) == ["food", "sport", "tech"]

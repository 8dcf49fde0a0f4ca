"""The recipe for real on tiny data: it trains, it is reproducible, it never hands back worse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.model.catalogue import autocast, load_model
from core.train.recipe import train
from tests.helpers import tiny_config, tiny_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return train(tiny_config(epochs=2), tiny_dataset(), tmp_path_factory.mktemp("work"))


def _max_weight_change(model) -> float:
    base = load_model("small", device="cpu").state_dict()
    return max(
        float((tensor.float() - base[name].float()).abs().max())
        for name, tensor in model.state_dict().items()
        if torch.is_floating_point(tensor)
    )


def test_training_changes_the_weights_and_records_every_evaluation(result):
    assert result.finetune_kept
    assert _max_weight_change(result.model) > 1e-6
    steps = [p["step"] for p in result.history]
    assert steps[0] == 0 and steps == sorted(steps) and len(steps) == 3  # baseline + 2 epochs
    assert result.history[0]["metrics"] == result.baseline.metrics.to_dict()
    assert result.final.metrics.macro_f1 >= result.baseline.metrics.macro_f1
    assert result.labels == ("food", "sport", "tech")
    assert len(result.final.confusion_matrix) == 3
    assert result.device.kind == "cpu"


def _assert_head_fitted_on_all_rows(result, config, label_names: bool) -> None:
    """The served head is the one fitted on the training rows, the label names' rows when
    `label_names` (tiny_dataset's labels are words), and the validation rows."""
    from core.model.heads import encode, fit_head

    data = tiny_dataset()
    index = {label: i for i, label in enumerate(result.labels)}
    names = ["food", "sport", "tech"] if label_names else []
    y = [index[label] for label in data.train.labels] + [index[name] for name in names]
    y += [index[label] for label in data.valid.labels]
    # Encoded as the recipe's head phase encodes: training rows, then validation rows, at the
    # run's precision (under bf16 an embedding moves by ~1e-4 with its batch's padding).
    with autocast(result.device):
        x_train = encode(result.model, [*data.train.texts, *names])
        x_valid = encode(result.model, list(data.valid.texts))
    expected = fit_head(np.vstack([x_train, x_valid]), np.array(y), config)
    np.testing.assert_allclose(result.head.coef_, expected.coef_, atol=1e-6)


def test_the_served_head_learns_from_training_and_validation_rows_and_the_label_names(result):
    # The labels are words, so each name is one more training row (label_names, the default).
    _assert_head_fitted_on_all_rows(result, tiny_config(epochs=2), label_names=True)


def test_same_seed_data_and_settings_give_the_same_metrics(result, tmp_path):
    again = train(tiny_config(epochs=2), tiny_dataset(), tmp_path)
    assert again.history == result.history
    assert again.final == result.final
    texts = ["a spicy soup", "the phone crashed"]
    np.testing.assert_allclose(again.model.encode(texts), result.model.encode(texts), atol=1e-6)


def test_a_finetune_worse_than_the_base_model_is_not_handed_back(tmp_path):
    # A learning rate this high wrecks the body; the frozen model is the better checkpoint.
    wrecked = train(
        tiny_config(learning_rate=0.5, early_stopping_patience=0), tiny_dataset(), tmp_path
    )
    assert not wrecked.finetune_kept
    assert wrecked.final == wrecked.baseline
    assert wrecked.note.startswith("Finetuning did not beat the base model on the validation split")
    assert _max_weight_change(wrecked.model) == 0.0


def test_without_label_names_the_head_learns_from_the_rows_alone(tmp_path):
    config = tiny_config(epochs=1, label_names=False)
    _assert_head_fitted_on_all_rows(train(config, tiny_dataset(), tmp_path), config, False)

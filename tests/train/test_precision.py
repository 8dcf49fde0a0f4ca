"""Training precision for real on tiny data: bf16 autocast where the CPU has it and the setting
allows it, recorded in the run; fp32 weights saved and served either way; fp32 when off."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors import safe_open

from core.model.catalogue import DeviceInfo, choose_device, cpu_supports_bf16
from core.model.classifier import load_classifier_dir, save_classifier
from core.runs.store import RunStore
from core.runs.worker import run_job
from core.train.recipe import train, training_arguments
from tests.helpers import tiny_config, tiny_dataset

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16")
def test_auto_trains_in_bf16_on_a_bf16_cpu_and_hands_over_fp32_weights(tmp_path):
    data = tiny_dataset()
    result = train(tiny_config(precision="auto"), data, tmp_path / "work")
    assert result.device.precision == "bf16"
    save_classifier(result.model, result.head, result.labels, result.cleaning, tmp_path / "run")
    with safe_open(str(tmp_path / "run" / "model" / "model.safetensors"), "numpy") as f:
        dtypes = {f.get_slice(name).get_dtype() for name in f.keys()}
    assert "F32" in dtypes and "BF16" not in dtypes
    # The body handed over runs in fp32 as the saved one does (no autocast left on it): bf16
    # would move the embeddings by about 1e-3.
    texts = list(data.valid.texts)
    loaded = load_classifier_dir(tmp_path / "run", device="cpu")
    np.testing.assert_allclose(
        result.model.encode(texts), loaded.model.encode(texts), rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("precision", ["auto", "fp32"])
def test_the_run_records_the_precision_it_trained_at(tmp_path, precision):
    store = RunStore(tmp_path / "runs")
    record, _ = store.create(tiny_config(precision=precision), tiny_dataset())
    assert run_job(store, record.id, queue=False) == "completed"
    device = store.get(record.id).device
    expected = "bf16" if precision == "auto" and cpu_supports_bf16() else "fp32"
    assert device["precision"] == expected
    assert device == choose_device("cpu", precision).to_dict()


def test_bf16_on_a_cpu_asks_the_trainer_for_bf16_autocast(tmp_path):
    args = training_arguments(tiny_config(), DeviceInfo("cpu", "CPU", "bf16"), tmp_path, 100)
    assert (args["bf16"], args["fp16"], args["use_cpu"]) == (True, False, True)

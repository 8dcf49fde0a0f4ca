"""TrainConfig: validation with exact messages, serialisation, identity."""

from __future__ import annotations

import pytest

from core.config import TrainConfig
from core.data.cleaning import CleaningConfig
from core.errors import ConfigError


def test_defaults_are_valid_and_round_trip():
    config = TrainConfig(cleaning=CleaningConfig(html=True))
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be a whole number from 1 to 1000, got 0"),
        ({"batch_size": 1.5}, "batch_size must be a whole number from 2 to 4096, got 1.5"),
        ({"learning_rate": 0}, "learning_rate must be a number above 0 and at most 1, got 0"),
        ({"warmup_ratio": 1}, "warmup_ratio must be from 0 to below 1, got 1"),
        ({"max_seq_length": 4}, "max_seq_length must be from 8 to 8192 tokens, got 4"),
        ({"device": "tpu"}, "device must be cpu, cuda or mps, got 'tpu'"),
        ({"precision": "bf16"}, "precision must be auto or fp32, got 'bf16'"),
        ({"seed": -1}, "seed must be a whole number from 0 to 4294967295, got -1"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(ConfigError) as excinfo:
        TrainConfig().replace(**changes)
    assert str(excinfo.value) == message


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match=r"^unknown setting\(s\): colour$"):
        TrainConfig.from_dict({"colour": "blue"})


def test_identity_ignores_the_device_but_not_the_recipe():
    assert TrainConfig(device="cpu").identity() == TrainConfig().identity()
    assert TrainConfig(seed=1).identity() != TrainConfig().identity()


def test_the_public_api_is_importable_from_core():
    import core

    for name in core.__all__:
        assert getattr(core, name) is not None
    with pytest.raises(AttributeError):
        core.no_such_thing  # noqa: B018

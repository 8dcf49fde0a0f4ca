"""The inference backends at run time: their names, the optional packages they need, and a
SentenceTransformer whose transformer is an ONNX Runtime session (`OnnxBody`, in the place
optimum's `ORTModelForFeatureExtraction` takes), so tokenisation, pooling and normalisation stay
the pipeline's. The files sit where sentence-transformers looks for them (`onnx/model.onnx` in
the model folder); OpenVINO's bodies and PyTorch's bf16 one are in core.model.onnx.openvino and
core.model.onnx.bf16, the static (model2vec) one in core.model.static."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# The backends a model runs on. torch: the model folder as it is (fp32). torch-bf16: the same
# under PyTorch's CPU bfloat16 autocast (only where the CPU has bf16 instructions). onnx /
# onnx-int8: ONNX Runtime, fp32 or dynamically quantised int8. openvino: OpenVINO's runtime on
# the fp32 ONNX body, in bf16 where the CPU has it (else f32); openvino-int8: that body quantised
# by NNCF, calibrated on the run's training texts. static: a model2vec model distilled from the
# body with the head refitted on it (core.model.static): far faster, less accurate.
BACKENDS = (
    "torch",
    "torch-bf16",
    "onnx",
    "onnx-int8",
    "openvino",
    "openvino-int8",
    "static",
)
# Measured and not shipped (docs/BENCHMARKS.md, "Backends": worse than onnx-int8 on every axis):
# int8 with activation scales calibrated on the run's training texts (ONNX Runtime's QDQ). Only
# bench/backends.py makes it, to measure it again.
REJECTED = ("onnx-int8-static",)
# The backends whose body is checked against PyTorch's (cosine and agreement); static has its
# own check (core.model.static), torch is the reference.
BODY_BACKENDS = (*BACKENDS[1:-1], *REJECTED)
ONNX_DIR = "onnx"  # inside a model folder, where sentence-transformers looks for ONNX files
# Each backend's file in ONNX_DIR ("" for none: torch-bf16 runs the PyTorch weights; openvino
# reads the fp32 ONNX file itself; OpenVINO's int8 body is an IR pair, .xml and .bin).
FILES = {
    "torch-bf16": "",
    "onnx": "model.onnx",
    "onnx-int8": "model_qint8.onnx",
    "onnx-int8-static": "model_qdq.onnx",
    "openvino": "model.onnx",
    "openvino-int8": "openvino_int8.xml",
}
INSTALL = "pip install -r requirements-onnx.txt"
INSTALL_NO_DEPS = "pip install --no-deps -r requirements-backends.txt"
# The optional modules each backend imports, and the command that installs them.
NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "onnx": (("onnxruntime", "onnx", "onnxscript"), INSTALL),
    "onnx-int8": (("onnxruntime", "onnx", "onnxscript"), INSTALL),
    "onnx-int8-static": (("onnxruntime", "onnx", "onnxscript"), INSTALL),
    "openvino": (("onnxruntime", "onnx", "onnxscript", "openvino"), INSTALL_NO_DEPS),
    "openvino-int8": (("onnxruntime", "onnx", "onnxscript", "openvino", "nncf"), INSTALL_NO_DEPS),
    "static": (("model2vec", "skeletoken"), INSTALL_NO_DEPS),
}


def default_backend() -> str:
    """The backend used when none is named: the first of PREFERRED (those that kept every
    shared set's test macro-F1 within half a point of PyTorch's at >= 2x its throughput,
    docs/BENCHMARKS.md "Backends") whose packages are installed, on a CPU with bf16 units like
    the benchmark's; torch elsewhere (without bf16 units none of them was measured, and the bf16
    ones would run slower than fp32). `EMBEDTUNE_BACKEND` names another."""
    import os

    from core.model.catalogue import cpu_supports_bf16

    chosen = os.environ.get(BACKEND_ENV, "").strip()
    if chosen:
        return check_backend(chosen)
    if not PREFERRED or not cpu_supports_bf16():
        return "torch"
    return next((b for b in PREFERRED if backend_available(b)), "torch")


# The default's candidates, best first (docs/BENCHMARKS.md "Backends", bench/backends.py,
# 2026-12-05): openvino (bf16) 2.70x PyTorch's batch throughput, one text 2.3x faster, test
# macro-F1 within 0.11 points on 8 of 8 sets; torch-bf16 2.42x, within 0.11 (no OpenVINO needed).
PREFERRED: tuple[str, ...] = ("openvino", "torch-bf16")
DEFAULT_BACKEND = "torch"  # what the help says without probing the CPU (default_backend())
BACKEND_ENV = "EMBEDTUNE_BACKEND"  # the default backend of the CLI and `serve`, when set


class OnnxUnavailable(ModelError):
    """The optional packages of a backend are not installed."""


BackendUnavailable = OnnxUnavailable


def check_backend(backend: str, measured: bool = False) -> str:
    """`backend` when it is one Embedtune knows (`measured`: or a rejected one a benchmark
    makes), else a ModelError naming the choices."""
    if backend not in BACKENDS and not (measured and backend in REJECTED):
        raise ModelError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")
    return backend


def require_backend(backend: str) -> None:
    """Raise OnnxUnavailable (with the pip command) unless `backend`'s optional packages are
    importable, or a ModelError when this CPU cannot run it (bf16 without bf16 instructions)."""
    check_backend(backend, measured=True)
    if backend == "torch-bf16":
        from core.model.catalogue import cpu_supports_bf16

        if not cpu_supports_bf16():
            raise ModelError(
                "the torch-bf16 backend needs a CPU with bfloat16 instructions (AVX512-BF16 or "
                "AMX), which this one does not report: it would run slower than fp32 here; use "
                "torch, onnx-int8 or openvino"
            )
        return
    if backend not in NEEDS:
        return
    modules, command = NEEDS[backend]
    missing = []
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        extra = f"`{INSTALL}` and " if command != INSTALL and "onnxruntime" in missing else ""
        raise OnnxUnavailable(
            f"the {backend} backend needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: run {extra}`{command}` "
            "(the torch backend works without it)"
        )


def require_onnx() -> None:
    """Raise OnnxUnavailable (with the pip command) unless ONNX, its exporter and ONNX Runtime
    are importable."""
    require_backend("onnx")


def backend_available(backend: str) -> bool:
    """Whether `backend` can be used here (its packages installed, the CPU able to run it)."""
    try:
        require_backend(backend)
    except ModelError:
        return False
    return True


def onnx_available() -> bool:
    """Whether the ONNX backends can be used here."""
    return backend_available("onnx")


@functools.cache
def _body_class() -> type:
    """OnnxBody, defined on first use (torch is imported lazily: it takes seconds)."""
    import torch

    class OnnxBody(torch.nn.Module):
        """The transformer of a SentenceTransformer, run by ONNX Runtime: takes the tokenizer's
        tensors, returns `last_hidden_state` (pooling and normalisation stay the pipeline's)."""

        def __init__(self, session: Any, config: Any) -> None:
            super().__init__()
            self.session = session
            self.config = config
            self.inputs = [i.name for i in session.get_inputs()]
            self.device = torch.device("cpu")

        def forward(self, **features: Any) -> dict[str, Any]:
            feeds = {name: features[name].cpu().numpy().astype(np.int64) for name in self.inputs}
            (hidden,) = self.session.run(["last_hidden_state"], feeds)
            return {"last_hidden_state": torch.from_numpy(hidden)}

    return OnnxBody


def session(file: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for `file`, with as many threads as PyTorch uses."""
    require_onnx()
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own types for a damaged file
        raise ModelError(f"cannot load the ONNX body {file}: {exc}") from exc


def load_onnx(folder: Path, file: Path, threads: int | None = None) -> SentenceTransformer:
    """The SentenceTransformer in `folder` with its transformer run from the ONNX `file`: the
    PyTorch weights are never read (loaded on the meta device, then replaced)."""
    return with_body(folder, _body_class(), session(file, threads))


def with_body(folder: Path, body_class: Any, runner: Any) -> SentenceTransformer:
    """The SentenceTransformer in `folder` (tokenizer, pooling, normalisation) with its
    transformer replaced by `body_class(runner, config)`: the PyTorch weights are never read
    (loaded on the meta device, then replaced)."""
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(
            str(folder), trust_remote_code=False, model_kwargs={"device_map": "meta"}
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the model in {folder}: {exc}") from exc
    transformer: Any = model[0]
    transformer.model = body_class(runner, transformer.model.config)
    return model

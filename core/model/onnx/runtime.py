"""The ONNX backends at run time: the backend names, the optional packages they need, and a
SentenceTransformer whose transformer is an ONNX Runtime session (`OnnxBody`, in the place
optimum's `ORTModelForFeatureExtraction` takes), so tokenisation, pooling and normalisation stay
the pipeline's. The files sit where sentence-transformers looks for them (`onnx/model.onnx` in
the model folder)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "torch"  # until docs/BENCHMARKS.md "Backends" shows another is better here
ONNX_DIR = "onnx"  # inside a model folder, where sentence-transformers looks for ONNX files
FILES = {"onnx": "model.onnx", "onnx-int8": "model_qint8.onnx"}
INSTALL = "pip install -r requirements-onnx.txt"


class OnnxUnavailable(ModelError):
    """The optional ONNX packages are not installed."""


def check_backend(backend: str) -> str:
    """`backend` when it is one Embedtune knows, else a ModelError naming the choices."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")
    return backend


def require_onnx() -> None:
    """Raise OnnxUnavailable (with the pip command) unless ONNX, its exporter and ONNX Runtime
    are importable."""
    missing = []
    for module in ("onnxruntime", "onnx", "onnxscript"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise OnnxUnavailable(
            f"the ONNX backends need {', '.join(missing)}, which is not installed: run "
            f"`{INSTALL}` (the torch backend works without it)"
        )


def onnx_available() -> bool:
    """Whether the ONNX backends can be used here."""
    try:
        require_onnx()
    except OnnxUnavailable:
        return False
    return True


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
    from sentence_transformers import SentenceTransformer

    body = session(file, threads)
    try:
        model = SentenceTransformer(
            str(folder), trust_remote_code=False, model_kwargs={"device_map": "meta"}
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the model in {folder}: {exc}") from exc
    transformer: Any = model[0]
    transformer.model = _body_class()(body, transformer.model.config)
    return model

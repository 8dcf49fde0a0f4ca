"""The OpenVINO backends: OpenVINO's runtime reads the fp32 ONNX body as it is (ONNX Runtime's
fused operators included) and runs it in bf16 where the CPU has bf16 units (its own default
there; f32 elsewhere); `openvino-int8` is that body quantised by NNCF's post-training
quantisation (int8 weights and activations, scales calibrated on the run's training texts),
saved as an OpenVINO IR pair (.xml + .bin). No optimum-intel: it pins an older transformers."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelError
from core.model.onnx.runtime import require_backend, with_body

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

CALIBRATION_TEXTS = 300  # the training texts NNCF calibrates on, at most (about 10 s, 2 cores)


def precision() -> str:
    """OpenVINO's inference precision here: bf16 where the CPU multiplies bf16, else f32."""
    from core.model.catalogue import cpu_supports_bf16

    return "bf16" if cpu_supports_bf16() else "f32"


def compile_body(file: Path, threads: int | None = None) -> Any:
    """`file` (an ONNX file or an OpenVINO .xml) compiled for this CPU."""
    require_backend("openvino")
    import openvino as ov
    import torch

    config = {
        "INFERENCE_PRECISION_HINT": precision(),
        "INFERENCE_NUM_THREADS": threads or torch.get_num_threads(),
        "PERFORMANCE_HINT": "LATENCY",
    }
    try:
        return ov.Core().compile_model(str(file), "CPU", config)
    except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError and its own types
        lines = str(exc).strip().splitlines()
        raise ModelError(
            f"OpenVINO cannot load the body {file}: {lines[0] if lines else exc}"
        ) from exc


@functools.cache
def _body_class() -> type:
    """OpenVinoBody, defined on first use (torch is imported lazily)."""
    import torch

    class OpenVinoBody(torch.nn.Module):
        """The transformer of a SentenceTransformer, run by OpenVINO: the tokenizer's tensors
        in, `last_hidden_state` out (pooling and normalisation stay the pipeline's). One infer
        request per call, so concurrent callers do not share one."""

        def __init__(self, compiled: Any, config: Any) -> None:
            super().__init__()
            self.compiled = compiled
            self.config = config
            self.inputs = [port.get_any_name() for port in compiled.inputs]
            self.device = torch.device("cpu")
            self._local = threading.local()

        def forward(self, **features: Any) -> dict[str, Any]:
            feeds = {name: features[name].cpu().numpy().astype(np.int64) for name in self.inputs}
            request = getattr(self._local, "request", None)
            if request is None:
                request = self._local.request = self.compiled.create_infer_request()
            request.infer(feeds)
            hidden = np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
            return {"last_hidden_state": torch.from_numpy(hidden)}

    return OpenVinoBody


def load_openvino(folder: Path, file: Path, threads: int | None = None) -> SentenceTransformer:
    """The SentenceTransformer in `folder` with its transformer run by OpenVINO from `file`
    (the PyTorch weights are never read)."""
    return with_body(folder, _body_class(), compile_body(file, threads))


def calibration_feeds(
    model: SentenceTransformer, texts: Sequence[str], names: Sequence[str]
) -> list[dict[str, np.ndarray]]:
    """One tokenised text per item (the shapes a calibration pass sees vary as real ones do)."""
    length = int(model.max_seq_length or 256)
    feeds = []
    for text in list(texts)[:CALIBRATION_TEXTS]:
        tokens = model.tokenizer([text], truncation=True, max_length=length, return_tensors="np")
        feeds.append({n: np.asarray(tokens[n], dtype=np.int64) for n in names if n in tokens})
    return feeds


def quantize_nncf(
    source: Path, dest: Path, model: SentenceTransformer, texts: Sequence[str]
) -> None:
    """NNCF's post-training int8 quantisation of the ONNX body `source` (transformer preset:
    SmoothQuant, fast bias correction), calibrated on `texts`, saved as an IR pair at `dest`
    (.xml, with its .bin beside it)."""
    require_backend("openvino-int8")
    import logging

    import nncf
    import openvino as ov

    logging.getLogger("nncf").setLevel(logging.ERROR)
    ov_model = ov.Core().read_model(str(source))
    names = [port.get_any_name() for port in ov_model.inputs]
    feeds = calibration_feeds(model, texts, names)
    if not feeds:
        raise ModelError("no texts to calibrate the int8 body on")
    quantized = nncf.quantize(
        ov_model,
        nncf.Dataset(feeds),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(feeds),
    )
    ov.save_model(quantized, str(dest), compress_to_fp16=False)

"""Inference backends: a body exported to ONNX (fp32) or quantised to int8, run by ONNX Runtime
inside the same SentenceTransformer pipeline (tokenizer, pooling, normalisation), and the check
that an exported body answers as the PyTorch one does.

Why not sentence-transformers' own `backend="onnx"`: it loads through optimum-onnx, whose
releases (0.1.0) require transformers < 4.58 and fail to import under the transformers 5 this
project uses. So the body is exported with PyTorch's own exporter (`export`), quantised with ONNX
Runtime's `quantize_dynamic` (`quantize`, what optimum's `ORTQuantizer` calls), kept only after
it passed its check (`check`), and run by `OnnxBody` (`runtime`), which takes the place of the
transformer inside the SentenceTransformer as optimum's `ORTModelForFeatureExtraction` does.

Each module imports only those before it: runtime <- export, quantize <- check."""

from core.model.onnx.check import (
    CHECK_TEXTS,
    CHECKS_FILE,
    MIN_AGREEMENT,
    MIN_COSINE,
    RECIPES,
    SAMPLE_TEXTS,
    BodyCheck,
    ExportRefused,
    base_body,
    compare,
    ensure_body,
    load_body,
    read_checks,
    write_checks,
)
from core.model.onnx.export import OPSET, export_fp32, export_fused
from core.model.onnx.quantize import feed_forward_products, quantize_int8
from core.model.onnx.runtime import (
    BACKENDS,
    DEFAULT_BACKEND,
    FILES,
    INSTALL,
    ONNX_DIR,
    OnnxUnavailable,
    check_backend,
    load_onnx,
    onnx_available,
    require_onnx,
    session,
)

__all__ = [
    "BACKENDS",
    "CHECKS_FILE",
    "CHECK_TEXTS",
    "DEFAULT_BACKEND",
    "FILES",
    "INSTALL",
    "MIN_AGREEMENT",
    "MIN_COSINE",
    "ONNX_DIR",
    "OPSET",
    "RECIPES",
    "SAMPLE_TEXTS",
    "BodyCheck",
    "ExportRefused",
    "OnnxUnavailable",
    "base_body",
    "check_backend",
    "compare",
    "ensure_body",
    "export_fp32",
    "export_fused",
    "feed_forward_products",
    "load_body",
    "load_onnx",
    "onnx_available",
    "quantize_int8",
    "read_checks",
    "require_onnx",
    "session",
    "write_checks",
]

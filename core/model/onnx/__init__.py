"""Inference backends: a body exported to ONNX (fp32) or quantised to int8 (dynamically, or with
activation scales calibrated on the run's training texts), run by ONNX Runtime or OpenVINO inside
the same SentenceTransformer pipeline (tokenizer, pooling, normalisation); PyTorch's own body
under bf16 autocast; and the check that such a body answers as the PyTorch one does. The static
backend (a model2vec model distilled from the body) is core.model.static.

Why not sentence-transformers' own `backend="onnx"`: it loads through optimum-onnx, whose
releases (0.1.0) require transformers < 4.58 and fail to import under the transformers 5 this
project uses. So the body is exported with PyTorch's own exporter (`export`), quantised with ONNX
Runtime's `quantize_dynamic` / `quantize_static` or NNCF (`quantize`, `openvino`), kept only
after it passed its check (`check`), and run by `OnnxBody` (`runtime`), `OpenVinoBody`
(`openvino`) or `Bf16Body` (`bf16`), which take the place of the transformer inside the
SentenceTransformer as optimum's `ORTModelForFeatureExtraction` does.

Each module imports only those before it: runtime <- export, quantize, openvino, bf16 <- check
<- base."""

from core.model.onnx.base import SAMPLE_TEXTS, base_body
from core.model.onnx.check import (
    CHECK_TEXTS,
    CHECKS_FILE,
    MIN_AGREEMENT,
    MIN_COSINE,
    RECIPES,
    BodyCheck,
    ExportRefused,
    compare,
    ensure_body,
    load_body,
    read_checks,
    recipes,
    write_checks,
)
from core.model.onnx.export import OPSET, export_fp32, export_fused
from core.model.onnx.quantize import feed_forward_products, quantize_int8, quantize_static_int8
from core.model.onnx.runtime import (
    BACKENDS,
    BODY_BACKENDS,
    DEFAULT_BACKEND,
    FILES,
    INSTALL,
    INSTALL_NO_DEPS,
    ONNX_DIR,
    BackendUnavailable,
    OnnxUnavailable,
    backend_available,
    check_backend,
    default_backend,
    load_onnx,
    onnx_available,
    require_backend,
    require_onnx,
    session,
)

__all__ = [
    "BACKENDS",
    "BODY_BACKENDS",
    "CHECKS_FILE",
    "CHECK_TEXTS",
    "DEFAULT_BACKEND",
    "FILES",
    "INSTALL",
    "INSTALL_NO_DEPS",
    "MIN_AGREEMENT",
    "MIN_COSINE",
    "ONNX_DIR",
    "OPSET",
    "RECIPES",
    "SAMPLE_TEXTS",
    "BackendUnavailable",
    "BodyCheck",
    "ExportRefused",
    "OnnxUnavailable",
    "backend_available",
    "base_body",
    "check_backend",
    "compare",
    "default_backend",
    "ensure_body",
    "export_fp32",
    "export_fused",
    "feed_forward_products",
    "load_body",
    "load_onnx",
    "onnx_available",
    "quantize_int8",
    "quantize_static_int8",
    "read_checks",
    "recipes",
    "require_backend",
    "require_onnx",
    "session",
    "write_checks",
]

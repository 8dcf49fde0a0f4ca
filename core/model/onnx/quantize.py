"""Quantising an exported fp32 body to int8 with ONNX Runtime's `quantize_dynamic` (what
optimum's `ORTQuantizer` calls), keeping the feed-forward products that int8 hurts in fp32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The ways an int8 body is made, tried in this order (core.model.onnx.check.RECIPES): the
# feed-forward down-projections kept in fp32, or, when that still answers too differently (MPNet:
# min cosine 0.947), both feed-forward products.
INT8_RECIPES = ("int8-fp32-down-projections", "int8-fp32-feed-forward")


def quantize_int8(source: Path, dest: Path, recipe: str = INT8_RECIPES[0]) -> None:
    """Dynamic int8 quantisation of the matrix products' weights (activations quantised at run
    time), per channel, as optimum's AutoQuantizationConfig.avx512_vnni(is_static=False) sets it
    up, except the feed-forward products `recipe` keeps in fp32 (`feed_forward_products`).
    The embedding tables (Gather) stay fp32 too: quantising them measured the same cosine (0.991
    mean on 400 test texts, small model) and slower encoding (117 vs 184 texts/s)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source))
    keep = feed_forward_products(graph, up=recipe == "int8-fp32-feed-forward")
    quantize_dynamic(
        graph,
        str(dest),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],  # a fused graph's attention too
        nodes_to_exclude=keep,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def feed_forward_products(graph_model: Any, up: bool = False) -> list[str]:
    """The MatMul nodes that multiply by a constant weight with more inputs than outputs: in a
    BERT-style body, each feed-forward block's down-projection (e.g. 1536 -> 384), whose input,
    the GELU's output, has the outlying values that a per-tensor int8 activation scale loses;
    with `up`, the up-projections (more outputs than inputs) too.

    Measured on 4 shared sets x 300 test texts against fp32 (docs/BENCHMARKS.md, Backends):
    MiniLM with its 6 down-projections in fp32, prediction agreement 97.6-99.7 % and min cosine
    0.980 (every MatMul quantised: 95.6-99.0 %, 0.958); MPNet 97.0-100 % and 0.947 (all
    quantised: 91.3-99.3 %, 0.550), and with the up-projections in fp32 too 98.3-100 %, 0.986."""
    shapes = {init.name: tuple(init.dims) for init in graph_model.graph.initializer}
    names = []
    for node in graph_model.graph.node:
        if node.op_type != "MatMul":
            continue
        weight = next((shapes[i] for i in node.input if i in shapes), None)
        if weight is None or len(weight) != 2:
            continue
        if weight[0] > weight[1] or (up and weight[0] < weight[1]):
            names.append(node.name)
    return names


# The calibrated (static) int8 body: activation scales from the run's training texts instead of
# each call's own range. Tried in order like INT8_RECIPES (feed-forward products in fp32).
STATIC_RECIPES = ("static-int8-fp32-down-projections", "static-int8-fp32-feed-forward")
CALIBRATION_TEXTS = 256  # the training texts the activation ranges are collected on, at most
CALIBRATION_LENGTH = 64  # tokens per calibration text (padded: the collector wants one shape)


def quantize_static_int8(
    source: Path, dest: Path, tokenizer: Any, texts: list[str], recipe: str = STATIC_RECIPES[0]
) -> None:
    """ONNX Runtime's static quantisation in QDQ format: int8 weights per channel and uint8
    activations whose ranges (min-max) were collected by running `source` on `texts`; the same
    feed-forward products as `quantize_int8` stay fp32 (`recipe`)."""
    import tempfile

    import numpy as np
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    graph = onnx.load(str(source))
    names = [i.name for i in graph.graph.input]
    batches = []
    for start in range(0, min(len(texts), CALIBRATION_TEXTS), 16):
        tokens = tokenizer(
            texts[start : start + 16],
            padding="max_length",
            truncation=True,
            max_length=CALIBRATION_LENGTH,
            return_tensors="np",
        )
        batches.append({n: np.asarray(tokens[n], dtype=np.int64) for n in names})

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(batches)

        def get_next(self) -> dict[str, Any] | None:
            return next(self.batches, None)

    keep = feed_forward_products(graph, up=recipe == STATIC_RECIPES[1])
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        shaped = Path(tmp) / "shaped.onnx"  # the tensors' types, which the quantiser needs
        quant_pre_process(
            str(source), str(shaped), skip_optimization=True, skip_onnx_shape=True, auto_merge=True
        )
        quantize_static(
            str(shaped),
            str(dest),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=keep,
            calibrate_method=CalibrationMethod.MinMax,
        )

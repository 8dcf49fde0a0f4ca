"""The ONNX backends' rules: the check of an exported body against PyTorch, the backend names,
and the error when the optional packages are missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from core.errors import ModelError
from core.model.heads import LinearHead
from core.model.onnx import (
    MIN_COSINE,
    OnnxUnavailable,
    check_backend,
    compare,
    onnx_available,
    require_onnx,
)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_check_passes_a_faithful_body_and_refuses_a_drifting_one():
    rng = np.random.default_rng(0)
    reference = _unit(rng.normal(size=(50, 16)))
    head = LinearHead(rng.normal(size=(3, 16)), np.zeros(3))
    same = compare("onnx", reference, reference + 1e-6, head)
    assert same.passed and same.min_cosine > 0.9999 and same.agreement == 1.0
    assert same.texts == 50 and same.min_cosine_required == MIN_COSINE["onnx"]

    # One text whose vector turned around: fp32 refuses it (each text must stay >= 0.99).
    drifted = reference.copy()
    drifted[7] = -drifted[7]
    check = compare("onnx", reference, drifted, head)
    assert not check.passed and check.min_cosine == pytest.approx(-1.0)
    assert check.describe().startswith("onnx on 50 texts: cosine with PyTorch min -1.0000")


def test_int8_is_refused_when_predictions_change_though_vectors_stay_close():
    rng = np.random.default_rng(1)
    reference = _unit(rng.normal(size=(100, 8)))
    # A head whose decision sits on the first coordinate's sign: a small nudge flips texts near 0.
    head = LinearHead(np.array([[1.0] + [0.0] * 7]), np.array([0.0]))
    nudged = reference.copy()
    nudged[:, 0] += 0.05
    check = compare("onnx-int8", reference, _unit(nudged), head)
    assert check.min_cosine >= 0.95  # close enough for int8 ...
    assert check.agreement is not None and check.agreement < 0.98  # ... but labels changed
    assert not check.passed


def test_without_a_head_only_the_cosine_counts():
    reference = _unit(np.eye(4) + 0.1)
    check = compare("onnx-int8", reference, reference, None)
    assert check.passed and check.agreement is None


def test_compare_refuses_mismatched_shapes():
    with pytest.raises(ModelError, match=r"cannot compare embeddings of shapes \(2, 3\) and"):
        compare("onnx", np.ones((2, 3)), np.ones((3, 3)))


def test_unknown_backend():
    assert check_backend("onnx-int8") == "onnx-int8"
    with pytest.raises(ModelError) as err:
        check_backend("openvino")
    assert str(err.value) == "unknown backend 'openvino': choose torch, onnx, onnx-int8"


def test_missing_optional_packages_name_the_pip_command(monkeypatch):
    assert onnx_available()  # requirements-onnx.txt, which `make test` installs
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    assert not onnx_available()
    with pytest.raises(OnnxUnavailable) as err:
        require_onnx()
    assert str(err.value) == (
        "the ONNX backends need onnxruntime, which is not installed: run "
        "`pip install -r requirements-onnx.txt` (the torch backend works without it)"
    )


@pytest.mark.slow
def test_a_base_model_embeds_on_onnx_int8_from_the_cache_folder(small_model, tmp_path, monkeypatch):
    from core.model.classifier import load_embedder
    from core.model.heads import encode
    from core.model.onnx import SAMPLE_TEXTS, read_checks

    monkeypatch.setenv("EMBEDTUNE_CACHE_DIR", str(tmp_path))
    embedder = load_embedder("small", backend="onnx-int8")
    texts = ["what time is it", "the soup was too salty", "she scored twice in the final"]
    cosine = (embedder.embed(texts) * encode(small_model, texts)).sum(axis=1)
    assert cosine.min() >= MIN_COSINE["onnx-int8"]
    (folder,) = (tmp_path / "onnx").iterdir()
    assert folder.name.startswith("model-")  # the small model's packaged folder is `model/`
    checks = read_checks(folder)
    assert set(checks) == {"onnx", "onnx-int8"}
    assert all(c.passed and c.texts == len(SAMPLE_TEXTS) for c in checks.values())


@pytest.mark.skipif(not onnx_available(), reason="ONNX packages not installed")
def test_int8_keeps_the_feed_forward_down_projections_in_fp32():
    """Only MatMuls by a constant weight with more inputs than outputs (a feed-forward block's
    down-projection) are left out of the int8 quantisation; in the second recipe, those with
    more outputs (the up-projection) too; never the square ones or the activation products."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from core.model.onnx import feed_forward_products

    def weight(name: str, rows: int, cols: int):
        return numpy_helper.from_array(np.ones((rows, cols), dtype=np.float32), name)

    nodes = [
        helper.make_node("MatMul", ["x", "up_w"], ["h"], name="ffn_up"),  # 2 -> 8
        helper.make_node("MatMul", ["h", "down_w"], ["y"], name="ffn_down"),  # 8 -> 2
        helper.make_node("MatMul", ["y", "square_w"], ["z"], name="attention_out"),  # 2 -> 2
        helper.make_node("MatMul", ["z", "t"], ["out"], name="activations"),  # no weight
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2]),
            helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 2]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 2])],
        [weight("up_w", 2, 8), weight("down_w", 8, 2), weight("square_w", 2, 2)],
    )
    model = onnx.helper.make_model(graph)
    assert feed_forward_products(model) == ["ffn_down"]
    assert feed_forward_products(model, up=True) == ["ffn_up", "ffn_down"]

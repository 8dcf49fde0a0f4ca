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
        check_backend("tensorrt")
    assert str(err.value) == (
        "unknown backend 'tensorrt': choose torch, torch-bf16, onnx, onnx-int8, openvino, "
        "openvino-int8, static"
    )


def test_missing_optional_packages_name_the_pip_command(monkeypatch):
    assert onnx_available()  # requirements-onnx.txt, which `make test` installs
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    assert not onnx_available()
    with pytest.raises(OnnxUnavailable) as err:
        require_onnx()
    assert str(err.value) == (
        "the onnx backend needs onnxruntime, which is not installed: run "
        "`pip install -r requirements-onnx.txt` (the torch backend works without it)"
    )


@pytest.mark.parametrize(
    ("backend", "module", "message"),
    [
        (
            "openvino",
            "openvino",
            "the openvino backend needs openvino, which is not installed: run "
            "`pip install --no-deps -r requirements-backends.txt` (the torch backend works "
            "without it)",
        ),
        (
            "openvino-int8",
            "nncf",
            "the openvino-int8 backend needs nncf, which is not installed: run "
            "`pip install --no-deps -r requirements-backends.txt` (the torch backend works "
            "without it)",
        ),
        (
            "static",
            "model2vec",
            "the static backend needs model2vec, which is not installed: run "
            "`pip install --no-deps -r requirements-backends.txt` (the torch backend works "
            "without it)",
        ),
    ],
)
def test_each_backend_names_its_missing_package(monkeypatch, backend, module, message):
    from core.model.onnx import backend_available, require_backend

    assert backend_available(backend)  # requirements-backends.txt, which `make test` installs
    monkeypatch.setitem(sys.modules, module, None)
    assert not backend_available(backend)
    with pytest.raises(OnnxUnavailable) as err:
        require_backend(backend)
    assert str(err.value) == message


def test_torch_bf16_is_refused_on_a_cpu_without_bf16_units(monkeypatch):
    from core.model import catalogue
    from core.model.onnx import backend_available, default_backend, require_backend

    monkeypatch.delenv("EMBEDTUNE_BACKEND", raising=False)
    monkeypatch.setattr(catalogue, "cpu_supports_bf16", lambda: False)
    with pytest.raises(ModelError, match=r"torch-bf16 backend needs a CPU with bfloat16"):
        require_backend("torch-bf16")
    assert not backend_available("torch-bf16")
    assert default_backend() == "torch"  # the default falls back where the CPU lacks bf16


def test_openvino_runs_in_bf16_only_where_the_cpu_has_it(monkeypatch):
    from core.model import catalogue
    from core.model.onnx import recipes
    from core.model.onnx.openvino import precision

    monkeypatch.setattr(catalogue, "cpu_supports_bf16", lambda: False)
    assert precision() == "f32" and recipes("openvino") == ("openvino-f32",)
    monkeypatch.setattr(catalogue, "cpu_supports_bf16", lambda: True)
    assert precision() == "bf16" and recipes("openvino-int8") == ("nncf-int8-bf16",)


def test_the_check_reports_validation_macro_f1_given_the_truth():
    rng = np.random.default_rng(2)
    reference = _unit(rng.normal(size=(40, 6)))
    head = LinearHead(rng.normal(size=(3, 6)), np.zeros(3))
    truth = head.predict(reference)
    truth[:4] = (truth[:4] + 1) % 3  # four texts the head gets wrong
    check = compare("openvino", reference, reference, head, truth)
    assert check.passed and check.macro_f1 == check.macro_f1_torch < 1.0
    assert "validation macro-F1" in check.describe()


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


def test_export_formats_map_to_backends_and_wrong_pairs_are_refused():
    from core.runs.export import ExportError, export_backend

    assert export_backend("onnx", "int8") == "onnx-int8"
    assert export_backend("openvino", "int8") == "openvino-int8"
    assert export_backend("openvino-int8", None) == "openvino-int8"  # a backend's name works too
    assert export_backend("static", None) == "static"
    with pytest.raises(ExportError, match="unknown quantisation 'int8-static': choose int8"):
        export_backend("onnx", "int8-static")  # measured and not shipped
    with pytest.raises(ExportError, match=r"only --format onnx and openvino are quantised"):
        export_backend("static", "int8")


BODY_TEXTS = ["a spicy curry with rice", "the laptop overheats", "a late goal won the match"]
CALIBRATED = ("torch-bf16", "openvino", "openvino-int8")


@pytest.fixture(scope="module")
def backends_run(completed_run, tmp_path_factory):
    """The completed run copied, with its torch-bf16, calibrated int8 and OpenVINO bodies made
    and checked once for the module."""
    import shutil

    from core.runs.bodies import ensure_run_body
    from tests.conftest import CompletedRun

    root = tmp_path_factory.mktemp("backends") / "runs"
    root.mkdir()
    shutil.copytree(completed_run.root / completed_run.run_id, root / completed_run.run_id)
    for backend in CALIBRATED:
        ensure_run_body(root / completed_run.run_id, backend)
    return CompletedRun(root, completed_run.run_id)


@pytest.mark.parametrize("backend", CALIBRATED)
def test_each_new_body_passed_its_check_and_classifies_as_pytorch_does(backends_run, backend):
    from core.model.onnx import read_checks
    from core.runs.resolve import load_run

    run_dir = backends_run.root / backends_run.run_id
    check = read_checks(run_dir / "model" / "onnx")[backend]
    assert check.passed and check.texts > 0 and check.agreement >= 0.98
    assert check.macro_f1 is not None and check.macro_f1_torch is not None
    model = load_run(backends_run.run_id, backends_run.store, backend=backend)
    reference = load_run(backends_run.run_id, backends_run.store, device="cpu")
    cosine = (model.embed(BODY_TEXTS) * reference.embed(BODY_TEXTS)).sum(axis=1)
    assert cosine.min() >= MIN_COSINE[backend]
    assert [r["prediction"] for r in model.classify(BODY_TEXTS)] == model.predict(BODY_TEXTS)


def test_an_openvino_int8_export_carries_its_ir_pair_check_and_card(backends_run, tmp_path):
    from core.model.classifier import load_classifier_dir
    from core.runs.export import export_run

    dest, check = export_run(
        backends_run.run_id, tmp_path / "out", backends_run.store, "openvino", "int8"
    )
    onnx_dir = dest / "model" / "onnx"
    assert sorted(p.name for p in onnx_dir.iterdir()) == [
        "checks.json",
        "openvino_int8.bin",
        "openvino_int8.xml",
    ]
    assert not (dest / "model" / "model.safetensors").exists()
    card = (dest / "README.md").read_text(encoding="utf-8")
    assert "OpenVINO int8 (NNCF, calibrated on the training texts)" in card
    assert 'ov.Core().compile_model("model/onnx/openvino_int8.xml", "CPU")' in card
    # As the card runs it: OpenVINO, the tokenizer and NumPy, no PyTorch weights.
    import openvino as ov
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(dest / "model"))
    body = ov.Core().compile_model(str(onnx_dir / "openvino_int8.xml"), "CPU")
    tokens = tokenizer(BODY_TEXTS, padding=True, truncation=True, return_tensors="np")
    feeds = {p.get_any_name(): tokens[p.get_any_name()].astype(np.int64) for p in body.inputs}
    hidden = body(feeds)[0]
    mask = tokens["attention_mask"][..., None]
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    vectors = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    run = load_classifier_dir(backends_run.root / backends_run.run_id, backend="openvino-int8")
    assert (vectors * run.embed(BODY_TEXTS)).sum(axis=1).min() > 0.99


def test_a_calibrated_body_below_its_threshold_is_refused_and_not_kept(
    backends_run, tmp_path, monkeypatch
):
    import shutil

    import core.model.onnx.check as onnx_check
    from core.model.onnx import ExportRefused, read_checks, write_checks
    from core.runs.bodies import ensure_run_body

    run_dir = tmp_path / "runs" / backends_run.run_id
    shutil.copytree(backends_run.root / backends_run.run_id, run_dir)
    onnx_dir = run_dir / "model" / "onnx"
    (onnx_dir / "openvino_int8.xml").unlink()
    (onnx_dir / "openvino_int8.bin").unlink()
    checks = read_checks(onnx_dir)
    del checks["openvino-int8"]
    write_checks(onnx_dir, checks)
    monkeypatch.setitem(onnx_check.MIN_COSINE, "openvino-int8", 1.01)  # nothing could pass
    with pytest.raises(ExportRefused, match=r"the openvino-int8 export answers differently"):
        ensure_run_body(run_dir, "openvino-int8")
    assert not list(onnx_dir.glob("openvino_int8.*"))
    assert "openvino-int8" not in read_checks(onnx_dir)
    assert not list(onnx_dir.glob(".exporting-*"))


def test_the_default_backend_is_the_benchmark_s_best_where_the_cpu_has_bf16(monkeypatch):
    from core.model import catalogue
    from core.model.onnx import default_backend

    monkeypatch.delenv("EMBEDTUNE_BACKEND", raising=False)
    monkeypatch.setattr(catalogue, "cpu_supports_bf16", lambda: True)
    assert default_backend() == "openvino"
    monkeypatch.setitem(sys.modules, "openvino", None)  # OpenVINO not installed
    assert default_backend() == "torch-bf16"
    monkeypatch.setattr(catalogue, "cpu_supports_bf16", lambda: False)
    assert default_backend() == "torch"
    monkeypatch.setenv("EMBEDTUNE_BACKEND", "onnx-int8")  # the user's own choice wins
    assert default_backend() == "onnx-int8"
    monkeypatch.setenv("EMBEDTUNE_BACKEND", "fastest")
    with pytest.raises(ModelError, match="unknown backend 'fastest'"):
        default_backend()

"""Exports: the PyTorch body or a checked ONNX body (fp32, int8), the head, the labels and a
model card; a body that answers differently is refused and nothing is written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import core.model.onnx as onnx_backend
import core.model.onnx.check as onnx_check  # where ensure_body looks up its exporters
from core.model.onnx import MIN_COSINE, ExportRefused
from core.runs.export import ExportError, export_run
from core.runs.resolve import load_run

TEXTS = ["a spicy curry (9)", "the laptop overheats (9)", "a late goal won the match", "hi"]


def _front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, card[:200]
    return yaml.safe_load(match.group(1))


def test_a_pytorch_export_loads_with_sentence_transformers_and_has_a_model_card(
    completed_run, tmp_path
):
    from sentence_transformers import SentenceTransformer

    store, run_id = completed_run.store, completed_run.run_id
    dest, check = export_run(run_id, tmp_path / "out", store)
    assert check is None
    assert sorted(p.name for p in dest.iterdir()) == [
        "README.md",
        "head.safetensors",
        "labels.json",
        "model",
        "run.json",
    ]
    assert not (dest / "model" / "onnx").exists()
    record = store.get(run_id)
    card = (dest / "README.md").read_text(encoding="utf-8")
    meta = _front_matter(card)
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["library_name"] == "sentence-transformers"
    assert meta["pipeline_tag"] == "text-classification"
    assert meta["labels"] == ["food", "sport", "tech"]
    metrics = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics["Macro-F1 (finetuned)"] == round(record.final.metrics.macro_f1, 4)
    assert metrics["Macro-F1 (base model)"] == round(record.baseline.metrics.macro_f1, 4)
    for heading in ("## Data", "## Recipe and settings", "## Results", "## Export check"):
        assert heading in card
    assert "| learning_rate | 0.0001 |" in card and "nothing to check" in card
    body = SentenceTransformer(str(dest / "model"), device="cpu")
    expected = load_run(run_id, store, device="cpu").embed(TEXTS)
    np.testing.assert_allclose(body.encode(TEXTS), expected, atol=1e-5)


def _ort_embeddings(dest: Path, file: str, texts: list[str]) -> np.ndarray:
    """The export's embeddings with ONNX Runtime, transformers' tokenizer and NumPy alone."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(dest / "model"))
    session = ort.InferenceSession(str(dest / "model" / file))
    tokens = tokenizer(texts, padding=True, truncation=True, return_tensors="np")
    feeds = {i.name: tokens[i.name].astype(np.int64) for i in session.get_inputs()}
    hidden = session.run(None, feeds)[0]
    mask = tokens["attention_mask"][..., None]
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@pytest.mark.parametrize(("quantize", "backend"), [(None, "onnx"), ("int8", "onnx-int8")])
def test_an_onnx_export_runs_without_embedtune_and_matches_pytorch(
    onnx_run, tmp_path, quantize, backend
):
    store, run_id = onnx_run.store, onnx_run.run_id
    dest, check = export_run(run_id, tmp_path / "out", store, "onnx", quantize)
    file = f"onnx/{onnx_backend.FILES[backend]}"
    assert check is not None and check.passed and check.file == file
    assert check.texts == len(store.load_dataset(run_id).valid)
    model = dest / "model"
    assert (model / file).is_file() and not (model / "model.safetensors").exists()
    assert sorted(p.name for p in (model / "onnx").iterdir()) == ["checks.json", Path(file).name]
    stored = json.loads((model / "onnx" / "checks.json").read_text())
    assert stored == {backend: check.to_dict()}
    card = (dest / "README.md").read_text(encoding="utf-8")
    assert "onnx" in _front_matter(card)["tags"]
    assert f"| `model/{file}` | {check.texts} | {check.min_cosine:.4f} /" in card

    # Reloaded with ONNX Runtime alone: PyTorch's vectors within the check's threshold, and
    # Embedtune's own predictions on this backend (the run keeps its body beside PyTorch's).
    torch_classifier = load_run(run_id, store, device="cpu")
    on_backend = load_run(run_id, store, backend=backend)
    vectors = _ort_embeddings(dest, file, TEXTS)
    cosine = (vectors * torch_classifier.embed(TEXTS)).sum(axis=1)
    assert cosine.min() >= MIN_COSINE[backend]
    np.testing.assert_allclose(vectors, on_backend.embed(TEXTS), atol=1e-5)
    if backend == "onnx":
        assert on_backend.predict(TEXTS) == torch_classifier.predict(TEXTS)
    # The card's own code, run as a user would in the exported folder.
    code = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=dest, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == on_backend.predict(["a text to classify"])[0]


def test_a_broken_export_is_refused_and_nothing_is_written(run_copy, tmp_path, monkeypatch):
    import onnx
    from onnx import numpy_helper

    real_export = onnx_backend.export_fp32

    def broken_export(model, dest, recipe):
        """The real export, then its word embeddings zeroed: a valid file that answers wrong."""
        real_export(model, dest, recipe)
        graph = onnx.load(str(dest))
        table = max(graph.graph.initializer, key=lambda t: np.prod(t.dims))
        table.CopyFrom(
            numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(table)), table.name)
        )
        onnx.save(graph, str(dest))

    monkeypatch.setattr(onnx_check, "export_fp32", broken_export)
    store, run_id = run_copy.store, run_copy.run_id
    dest = tmp_path / "exports" / "out"
    with pytest.raises(ExportRefused) as err:
        export_run(run_id, dest, store, "onnx", "int8")
    assert str(err.value).startswith(
        "the onnx export answers differently from the PyTorch model, so it was not kept: onnx on "
        f"{len(store.load_dataset(run_id).valid)} texts: cosine with PyTorch min "
    )
    assert not dest.exists() and not (tmp_path / "exports").exists()
    bodies = store.path(run_id) / "model" / "onnx"
    assert [p.name for p in bodies.iterdir() if not p.name.startswith(".export.lock")] == []
    with pytest.raises(ExportRefused):  # and the backend refuses to run it too
        load_run(run_id, store, backend="onnx")


def test_export_options_are_checked_before_any_work(completed_run, tmp_path):
    store, run_id = completed_run.store, completed_run.run_id
    with pytest.raises(ExportError) as err:
        export_run(run_id, tmp_path / "a", store, "torch", "int8")
    assert str(err.value) == (
        "--quantize int8 does not apply to --format torch: only --format onnx and openvino "
        "are quantised (int8)"
    )
    with pytest.raises(ExportError) as err:
        export_run(run_id, tmp_path / "a", store, "tensorrt")
    assert str(err.value) == (
        "unknown export format 'tensorrt': choose torch, torch-bf16, onnx, openvino, static"
    )
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ExportError, match="exists and is not empty: choose a new folder"):
        export_run(run_id, tmp_path / "full", store)
    assert not (tmp_path / "a").exists()


@pytest.mark.skipif(not onnx_backend.onnx_available(), reason="ONNX packages not installed")
def test_an_int8_body_quantised_the_old_way_is_made_again(onnx_run, tmp_path):
    """A kept int8 body from before the down-projections stayed fp32 (no recipe recorded) is
    exported again; a current one is kept as it is."""
    import shutil

    from core.model.classifier import MODEL_DIR
    from core.runs.bodies import ensure_run_body

    run_dir = tmp_path / onnx_run.run_id
    shutil.copytree(onnx_run.root / onnx_run.run_id, run_dir)
    checks_file = run_dir / MODEL_DIR / "onnx" / "checks.json"
    checks = json.loads(checks_file.read_text())
    assert checks["onnx-int8"]["recipe"] in onnx_backend.RECIPES["onnx-int8"]
    kept = run_dir / MODEL_DIR / "onnx" / onnx_backend.FILES["onnx-int8"]
    before = kept.stat().st_mtime_ns
    assert ensure_run_body(run_dir, "onnx-int8").recipe in onnx_backend.RECIPES["onnx-int8"]
    assert kept.stat().st_mtime_ns == before  # current: kept

    checks["onnx-int8"]["recipe"] = ""  # as written before recipes were recorded
    checks_file.write_text(json.dumps(checks))
    check = ensure_run_body(run_dir, "onnx-int8")
    assert check.recipe in onnx_backend.RECIPES["onnx-int8"] and check.passed
    assert kept.stat().st_mtime_ns != before  # made again
    stored = json.loads(checks_file.read_text())
    assert stored["onnx-int8"]["recipe"] in onnx_backend.RECIPES["onnx-int8"]
    assert stored["onnx"]["recipe"] == "fused"  # the first way, and it passed


@pytest.mark.skipif(not onnx_backend.onnx_available(), reason="ONNX packages not installed")
def test_int8_tries_its_next_recipe_when_the_first_fails_the_check(run_copy, monkeypatch):
    import onnx
    from onnx import numpy_helper

    from core.runs.bodies import ensure_run_body

    real_quantize = onnx_backend.quantize_int8
    first, second = onnx_backend.RECIPES["onnx-int8"]

    def quantize(source, dest, recipe):
        """The first recipe gives a valid file that answers wrong (its word table zeroed)."""
        real_quantize(source, dest, recipe)
        if recipe == first:
            graph = onnx.load(str(dest))
            table = max(graph.graph.initializer, key=lambda t: np.prod(t.dims))
            zeros = np.zeros_like(numpy_helper.to_array(table))
            table.CopyFrom(numpy_helper.from_array(zeros, table.name))
            onnx.save(graph, str(dest))

    monkeypatch.setattr(onnx_check, "quantize_int8", quantize)
    run_dir = run_copy.root / run_copy.run_id
    check = ensure_run_body(run_dir, "onnx-int8")
    assert check.passed and check.recipe == second

    def broken(source, dest, recipe):
        quantize(source, dest, first)

    monkeypatch.setattr(onnx_check, "quantize_int8", broken)
    (run_dir / "model" / "onnx" / onnx_backend.FILES["onnx-int8"]).unlink()
    with pytest.raises(ExportRefused, match=f"tried 2 ways: {first}, {second}"):
        ensure_run_body(run_dir, "onnx-int8")

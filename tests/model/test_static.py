"""The static backend: a model2vec model distilled from a run's body, its head refitted on the
run's training rows, its check against the run (refused when it loses too much), its export with
a model card that says it is faster and less accurate, and its safe loading (safetensors and a
tokenizer.json, nothing else)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from core.model.classifier import load_classifier_dir
from core.model.onnx import OnnxUnavailable, require_backend
from core.model.static import STATIC_DIR, load_static, read_check

TEXTS = ["a spicy curry with rice", "the laptop overheats", "a late goal won the match"]


@pytest.fixture(scope="module")
def static_run(completed_run, tmp_path_factory):
    """The completed run copied, with its static model made once (distilled, refitted, checked)."""
    from core.runs.bodies import ensure_run_body
    from tests.conftest import CompletedRun

    root = tmp_path_factory.mktemp("static") / "runs"
    root.mkdir()
    shutil.copytree(completed_run.root / completed_run.run_id, root / completed_run.run_id)
    ensure_run_body(root / completed_run.run_id, "static")
    return CompletedRun(root, completed_run.run_id)


def _tiny_static(folder: Path, rows: int = 5) -> None:
    """A hand-made static model: a five-word tokenizer and its vector table."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"[UNK]": 0, "good": 1, "bad": 2, "film": 3, "food": 4}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    folder.mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    table = np.eye(rows, 4, dtype=np.float32) + 0.1
    save_file({"embeddings": table}, str(folder / "model.safetensors"))


def test_a_static_model_loads_from_safetensors_and_a_tokenizer_only(tmp_path):
    _tiny_static(tmp_path / "ok")
    model = load_static(tmp_path / "ok")
    vectors = model.encode(["good film", "bad food"], convert_to_numpy=True)
    assert vectors.shape == (2, 4)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)  # normalised, as heads expect
    _tiny_static(tmp_path / "short", rows=3)  # three vectors for five tokens
    with pytest.raises(ModelError, match="has 3 vectors for a vocabulary of 5 tokens"):
        load_static(tmp_path / "short")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="the static model in .* is missing or damaged"):
        load_static(tmp_path / "empty")


def test_without_model2vec_the_static_backend_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "model2vec", None)
    with pytest.raises(OnnxUnavailable, match=r"pip install --no-deps -r requirements-backends"):
        require_backend("static")


def test_a_run_on_the_static_backend_classifies_with_its_refitted_head(static_run):
    from core.runs.resolve import load_run

    run_dir = static_run.root / static_run.run_id
    folder = run_dir / "model" / STATIC_DIR
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "README.md",
        "check.json",
        "config.json",
        "head.safetensors",
        "labels.json",
        "model.safetensors",
        "modules.json",
        "tokenizer.json",
    ]
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.bin"))
    check = read_check(folder)
    assert check is not None and check.passed
    assert check.macro_f1_torch - check.macro_f1 <= check.max_drop
    assert 0.0 <= check.agreement <= 1.0 and check.dims == 256 and check.vocabulary > 20_000
    static = load_run(static_run.run_id, static_run.store, backend="static")
    results = static.classify(TEXTS)
    assert [r["prediction"] for r in results] == static.predict(TEXTS)
    assert set(static.predict(TEXTS)) <= {"food", "sport", "tech"}
    assert static.embed(TEXTS).shape == (3, 256)


def test_the_static_export_has_its_check_and_a_card_that_says_its_price(static_run, tmp_path):
    from core.runs.export import export_run

    dest, check = export_run(static_run.run_id, tmp_path / "out", static_run.store, "static")
    assert sorted(p.name for p in dest.iterdir()) == ["README.md", "run.json", "static"]
    card = (dest / "README.md").read_text(encoding="utf-8")
    assert "**Faster and less accurate than the run it comes from.**" in card
    assert f"| the run (finetuned transformer) | {check.macro_f1_torch:.4f} |" in card
    assert f"| this static model | {check.macro_f1:.4f} |" in card
    assert "model2vec" in card and "StaticModel.from_pretrained" in card
    assert json.loads((dest / STATIC_DIR / "check.json").read_text())["passed"] is True
    exported = load_classifier_dir(dest, backend="static")
    run = load_classifier_dir(static_run.root / static_run.run_id, backend="static")
    assert exported.predict(TEXTS) == run.predict(TEXTS)


def test_a_static_model_that_loses_too_much_is_refused_and_not_kept(
    static_run, tmp_path, monkeypatch
):
    import core.runs.static as run_static
    from core.runs.static import StaticRefused, make_static

    root = tmp_path / "runs"
    source = static_run.root / static_run.run_id
    shutil.copytree(source, root / static_run.run_id, ignore=shutil.ignore_patterns(STATIC_DIR))
    kept = source / "model" / STATIC_DIR

    def distilled(folder: Path, dest: Path) -> None:  # the same model, without distilling again
        for name in ("model.safetensors", "tokenizer.json", "config.json"):
            shutil.copy2(kept / name, dest / name)

    monkeypatch.setattr(run_static, "distill_body", distilled)
    monkeypatch.setattr(run_static, "MAX_F1_DROP", -1.0)  # nothing could pass
    store = static_run.store.__class__(root)
    with pytest.raises(StaticRefused, match="loses too much against the run, so it was not kept"):
        make_static(root / static_run.run_id, store.load_dataset(static_run.run_id))
    assert not (root / static_run.run_id / "model" / STATIC_DIR).exists()
    assert not list((root / static_run.run_id / "model").glob(".static-*"))  # no staging left
    # The user may accept the price: the same model, kept with the allowance it was made under.
    check = make_static(
        root / static_run.run_id, store.load_dataset(static_run.run_id), max_drop=1.0
    )
    assert check.passed and check.max_drop == 1.0
    assert read_check(root / static_run.run_id / "model" / STATIC_DIR) == check

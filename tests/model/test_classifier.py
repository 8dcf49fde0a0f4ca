"""Saving and loading a classifier: safe formats, identical predictions, loadable body."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core.config import TrainConfig
from core.data.cleaning import CleaningConfig
from core.errors import RunError
from core.model.classifier import Classifier, load_classifier_dir, load_head, save_classifier
from core.model.heads import encode, fit_head

TEXTS = ["I loved it", "wonderful film", "terrible food", "I hated it", "not bad at all", "meh"]
LABELS = ["pos", "pos", "neg", "neg", "pos", "neg"]


@pytest.fixture(scope="module")
def classifier(small_model):
    labels = ["neg", "pos"]
    y = np.array([labels.index(label) for label in LABELS])
    head = fit_head(encode(small_model, TEXTS), y, TrainConfig())
    return Classifier(small_model, head, labels, CleaningConfig(html=True))


def test_classify_has_the_hosted_api_shape(classifier):
    [result] = classifier.classify("what a wonderful day")
    assert set(result) == {"input", "prediction", "confidence", "labels"}
    assert result["input"] == "what a wonderful day"
    assert set(result["labels"]) == {"neg", "pos"}
    assert sum(result["labels"].values()) == pytest.approx(1.0)
    assert result["confidence"] == max(result["labels"].values())
    assert result["prediction"] == max(result["labels"], key=result["labels"].get)
    assert list(classifier.classes_) == ["neg", "pos"]


def test_the_runs_cleaning_is_applied_to_inputs(classifier):
    np.testing.assert_allclose(
        classifier.embed("<b>lovely</b> &amp; fun"), classifier.embed("lovely & fun"), atol=1e-6
    )


def test_save_then_load_predicts_identically_and_uses_no_pickle(classifier, tmp_path):
    classifier.save(tmp_path / "clf")
    files = sorted(p.name for p in (tmp_path / "clf").iterdir())
    assert files == ["head.safetensors", "labels.json", "model"]
    assert not list((tmp_path / "clf").rglob("*.pkl")) and not list(tmp_path.rglob("*.bin"))
    loaded = load_classifier_dir(tmp_path / "clf", device="cpu")
    texts = ["great", "awful service", "<i>fine</i>"]
    np.testing.assert_allclose(
        loaded.predict_proba(texts), classifier.predict_proba(texts), atol=1e-6
    )
    assert loaded.predict(texts) == classifier.predict(texts)
    assert loaded.cleaning == CleaningConfig(html=True)


def test_the_saved_body_loads_with_sentence_transformers_alone(classifier, tmp_path):
    classifier.save(tmp_path / "clf")
    code = (
        "import sys; from sentence_transformers import SentenceTransformer; "
        "m = SentenceTransformer(sys.argv[1]); print(m.encode(['hi']).shape)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "clf" / "model")],
        cwd=tmp_path,  # not the project: nothing of Embedtune is importable
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "(1, 384)"


def test_a_damaged_head_is_reported(classifier, tmp_path):
    classifier.save(tmp_path / "clf")
    meta = json.loads((tmp_path / "clf" / "labels.json").read_text())
    meta["labels"] = ["a", "b", "c"]
    (tmp_path / "clf" / "labels.json").write_text(json.dumps(meta))
    with pytest.raises(RunError, match="does not match its 3 labels$"):
        load_head(tmp_path / "clf")
    (tmp_path / "clf" / "labels.json").write_text("{not json")
    with pytest.raises(RunError, match="is missing or damaged"):
        load_head(tmp_path / "clf")


def test_save_classifier_leaves_no_staging_folder(classifier, tmp_path):
    save_classifier(classifier.model, classifier.head, ["neg", "pos"], CleaningConfig(), tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".saving-")]

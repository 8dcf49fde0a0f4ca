"""The one-vs-rest sigmoid head: independent confidences, per-label thresholds, saved with the
classifier and read back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.config import TrainConfig
from core.model.classifier import Classifier, load_classifier_dir, multilabel_classifications
from core.model.heads import SigmoidHead, fit_multilabel_head


def test_one_vs_rest_heads_and_a_label_every_row_shares():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    y = np.c_[(x[:, 0] > 0).astype(int), (x[:, 1] > 0).astype(int), np.ones(40, dtype=int)]
    head = fit_multilabel_head(x, y, TrainConfig())
    p = head.predict_proba(x)
    assert p.shape == (40, 3) and not np.allclose(p.sum(axis=1), 1)
    assert (head.predict(x)[:, :2] == y[:, :2]).mean() > 0.9
    assert (p[:, 2] > 0.9).all() and not head.coef_[2].any()  # constant: the smoothed rate


def test_results_list_every_label_above_its_threshold_most_confident_first():
    probs = np.array([[0.9, 0.3, 0.6], [0.1, 0.2, 0.3]])
    first, second = multilabel_classifications(
        ["a", "b"], probs, ["x", "y", "z"], np.array([0.5, 0.25, 0.5])
    )
    assert first["predictions"] == ["x", "z", "y"]
    assert first["confidences"] == [0.9, 0.6, 0.3]
    assert (first["prediction"], first["confidence"]) == ("x", 0.9)
    assert second["predictions"] == [] and second["prediction"] == ""
    assert second["labels"] == {"x": 0.1, "y": 0.2, "z": 0.3}


def test_thresholds_are_stored_with_the_classifier_and_read_back(small_model, tmp_path):
    rng = np.random.default_rng(1)
    head = SigmoidHead(rng.normal(size=(3, 384)), rng.normal(size=3), np.array([0.3, 0.5, 0.7]))
    classifier = Classifier(small_model, head, ["food", "sport", "tech"])
    classifier.save(tmp_path)
    meta = json.loads((tmp_path / "labels.json").read_text())
    assert meta["multi_label"] is True and meta["thresholds"] == [0.3, 0.5, 0.7]
    loaded = load_classifier_dir(tmp_path, device="cpu")
    assert loaded.multi_label
    assert loaded.thresholds_ == pytest.approx([0.3, 0.5, 0.7])
    texts = ["the soup was too salty", "she scored twice"]
    assert loaded.predict_proba(texts) == pytest.approx(classifier.predict_proba(texts), abs=1e-6)
    assert loaded.classify(texts) == classifier.classify(texts)
    chosen = loaded.predict_proba(texts) >= loaded.thresholds_
    assert loaded.predict_labels(texts) == [
        tuple(label for label, on in zip(loaded.classes_, row, strict=True) if on) for row in chosen
    ]

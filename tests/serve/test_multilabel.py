"""A multi-label run behind the HTTP service, read by the official cohere client."""

from __future__ import annotations

import cohere
import pytest

from core.runs.resolve import load_run
from core.serve.app import create_app
from core.serve.schemas import ClassifyResponse
from core.serve.wire import classify_body
from tests.serve.helpers import LiveServer

TEXTS = ["the soup was too salty and she scored twice", "a new phone update", "fresh bread"]


def test_the_cohere_client_reads_a_multi_label_answer(multilabel_run):
    classifier = load_run(multilabel_run.run_id, multilabel_run.store, device="cpu")
    expected = classifier.classify(TEXTS)
    with LiveServer(create_app(multilabel_run.store)) as live:
        co = cohere.Client(api_key="unused", base_url=live.url, timeout=120)
        response = co.classify(model=multilabel_run.run_id, inputs=TEXTS)
    for got, want in zip(response.classifications, expected, strict=True):
        assert got.classification_type == "multi-label"
        assert got.input == want["input"]
        assert got.predictions == want["predictions"]
        assert got.confidences == pytest.approx(want["confidences"], abs=1e-6)
        assert {k: v.confidence for k, v in got.labels.items()} == pytest.approx(
            want["labels"], abs=1e-6
        )
    # The confidences are each label's own: they do not sum to 1.
    first = response.classifications[0]
    assert sum(v.confidence for v in first.labels.values()) != pytest.approx(1.0)


def test_the_multi_label_body_matches_the_schema(multilabel_run):
    classifier = load_run(multilabel_run.run_id, multilabel_run.store, device="cpu")
    body = classify_body(classifier, TEXTS)
    ClassifyResponse.model_validate(body)
    for item, want in zip(body["classifications"], classifier.classify(TEXTS), strict=True):
        assert item["predictions"] == want["predictions"]
        assert item["prediction"] == want["prediction"]

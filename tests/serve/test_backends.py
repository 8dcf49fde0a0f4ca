"""The service's backends: the one it starts with, and those a request may choose with its
`backend` field (the official cohere client sends it as an additional body parameter)."""

from __future__ import annotations

import cohere
import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.runs.resolve import load_run
from core.serve.app import create_app
from tests.serve.helpers import LiveServer

TEXTS = ["she scored twice in the final", "the soup was too salty", "my phone keeps crashing"]


def test_a_backend_the_service_does_not_allow_is_a_400_naming_those_it_does(tmp_path):
    from core.runs.store import RunStore

    client = TestClient(create_app(RunStore(tmp_path / "runs"), rate_per_s=None))
    answer = client.post("/v1/embed", json={"model": "small", "texts": ["hi"], "backend": "static"})
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        "backend 'static' is not enabled on this service: it allows torch (start it with "
        "--backends to allow more)"
    )


def test_a_service_does_not_start_with_a_backend_this_cpu_cannot_run(tmp_path, monkeypatch):
    from core.errors import ModelError
    from core.model import catalogue
    from core.runs.store import RunStore

    monkeypatch.setattr(catalogue, "cpu_supports_bf16", lambda: False)
    with pytest.raises(ModelError, match="torch-bf16 backend needs a CPU with bfloat16"):
        create_app(RunStore(tmp_path / "runs"), backends=("torch-bf16",))


@pytest.mark.skipif(
    not __import__("core.model.catalogue", fromlist=["x"]).cpu_supports_bf16(),
    reason="this CPU has no bf16 units",
)
def test_the_cohere_client_chooses_a_backend_per_request(completed_run):
    store, run_id = completed_run.store, completed_run.run_id
    app = create_app(store, backend="torch", backends=("torch-bf16",), rate_per_s=None)
    with LiveServer(app) as server:
        co = cohere.Client(api_key="unused", base_url=server.url, timeout=120)
        plain = co.classify(model=run_id, inputs=TEXTS)
        bf16 = co.classify(
            model=run_id,
            inputs=TEXTS,
            request_options={"additional_body_parameters": {"backend": "torch-bf16"}},
        )
        vectors = co.embed(
            model=run_id,
            texts=TEXTS,
            input_type="classification",
            request_options={"additional_body_parameters": {"backend": "torch-bf16"}},
        ).embeddings
    torch_classifier = load_run(run_id, store, device="cpu")
    assert [c.prediction for c in plain.classifications] == torch_classifier.predict(TEXTS)
    torch_p = [c.confidence for c in plain.classifications]
    bf16_p = [c.confidence for c in bf16.classifications]
    assert torch_p != bf16_p  # another body answered ...
    assert np.allclose(torch_p, bf16_p, atol=0.02)  # ... with nearly the same confidences
    cosine = (np.array(vectors) * torch_classifier.embed(TEXTS)).sum(axis=1)
    assert cosine.min() >= 0.99  # torch-bf16's check threshold

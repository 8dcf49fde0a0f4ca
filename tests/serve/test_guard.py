"""core.serve.guard: the API key (not on /health) and the per-client rate limit."""

from __future__ import annotations

import cohere
import httpx
import pytest
from fastapi.testclient import TestClient

from core.runs.store import RunStore
from core.serve.app import create_app
from tests.serve.helpers import LiveServer

TEXTS = ["she scored twice in the final", "the soup was too salty", "my phone keeps crashing"]


@pytest.mark.slow
def test_api_key_is_required_except_on_health(completed_run):
    with LiveServer(create_app(completed_run.store, api_key="s3cret")) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = httpx.get(f"{server.url}/v1/models", headers=headers)
            assert r.status_code == 401 and r.json()["message"].startswith("missing or wrong")
        with pytest.raises(cohere.errors.UnauthorizedError):
            cohere.Client(api_key="wrong", base_url=server.url).models.list()
        good = cohere.Client(api_key="s3cret", base_url=server.url, timeout=120)
        assert good.embed(model="small", texts=["hi"]).embeddings


def test_per_client_rate_limit_answers_429(tmp_path):
    client = TestClient(create_app(RunStore(tmp_path), rate_per_s=0.01, burst=2))
    codes = [client.get("/v1/models").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = client.get("/v1/models")
    assert limited.json()["message"].startswith("too many requests from")
    assert int(limited.headers["retry-after"]) >= 1
    assert client.get("/health").status_code == 200  # health is never limited

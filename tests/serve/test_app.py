"""The HTTP service: the official cohere client against a live server, errors, key, fuzzing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import cohere
import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient

from core.model.classifier import load_embedder
from core.runs.resolve import load_run
from core.runs.store import RunStore
from core.serve.app import create_app
from core.serve.cache import ModelCache, ModelLoading
from core.serve.wire import classify_body, classify_snippets
from tests.helpers import ROOT

TEXTS = ["she scored twice in the final", "the soup was too salty", "my phone keeps crashing"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving an app on a free loopback port, in a background thread."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def store(completed_run):
    """The session's completed run, served read-only by the tests of this module."""
    return completed_run.store


@pytest.fixture(scope="module")
def run_id(completed_run):
    return completed_run.run_id


@pytest.fixture(scope="module")
def live(store):
    with LiveServer(create_app(store)) as server:
        yield server


@pytest.fixture(scope="module")
def co(live):
    # No key on this server: the client insists on one, the server ignores it.
    return cohere.Client(api_key="unused", base_url=live.url, timeout=120)


# -- the official client ----------------------------------------------------------------------


@pytest.mark.slow
def test_cohere_classify_equals_in_process(co, store, run_id):
    response = co.classify(model=run_id, inputs=TEXTS)
    classifier = load_run(run_id, store, device="cpu")
    expected = classifier.classify(TEXTS)
    assert [c.prediction for c in response.classifications] == classifier.predict(TEXTS)
    for got, want in zip(response.classifications, expected, strict=True):
        assert got.input == want["input"] and got.predictions == [want["prediction"]]
        assert got.confidence == pytest.approx(want["confidence"], abs=1e-6)
        assert got.classification_type == "single-label"
        assert {k: v.confidence for k, v in got.labels.items()} == pytest.approx(
            want["labels"], abs=1e-6
        )


@pytest.mark.slow
@pytest.mark.parametrize("which", ["run", "small"])
def test_cohere_embed_v1_and_v2_equal_in_process(co, live, store, run_id, which):
    model = run_id if which == "run" else "small"
    embedder = load_run(run_id, store, device="cpu") if which == "run" else load_embedder("small")
    expected = embedder.embed(TEXTS)
    v1 = co.embed(model=model, texts=TEXTS, input_type="classification")
    assert v1.response_type == "embeddings_floats" and v1.texts == TEXTS
    np.testing.assert_allclose(np.array(v1.embeddings), expected, atol=1e-6)
    v2 = cohere.ClientV2(api_key="unused", base_url=live.url).embed(
        model=model, texts=TEXTS, input_type="search_document", embedding_types=["float"]
    )
    np.testing.assert_allclose(np.array(v2.embeddings.float_), expected, atol=1e-6)


@pytest.mark.slow
def test_cohere_lists_runs_and_base_models(co, run_id):
    models = {m.name: m for m in co.models.list().models}
    assert models[run_id].finetuned and models[run_id].endpoints == ["embed", "classify"]
    assert models["small"].endpoints == ["embed"] and not models["small"].finetuned
    assert set(models[run_id].labels) == {"sport", "food", "tech"}
    assert models[run_id].metrics["finetuned"]["macro_f1"] >= 0
    assert co.models.get(run_id).name == run_id


@pytest.mark.slow
def test_cohere_client_sees_errors_as_its_own_exceptions(co):
    with pytest.raises(cohere.errors.NotFoundError) as caught:
        co.classify(model="ft-000000000000", inputs=["hi"])
    assert caught.value.body["message"].startswith("unknown model 'ft-000000000000'")


@pytest.mark.slow
def test_playground_json_is_what_the_service_returns(live, store, run_id):
    served = httpx.post(f"{live.url}/v1/classify", json={"model": run_id, "inputs": TEXTS}).json()
    local = classify_body(load_run(run_id, store, device="cpu"), TEXTS)

    def comparable(value):
        """Ids blanked (fresh per call), floats to 6 places."""
        if isinstance(value, dict):
            return {k: None if k == "id" else comparable(v) for k, v in value.items()}
        if isinstance(value, list):
            return [comparable(v) for v in value]
        return round(value, 6) if isinstance(value, float) else value

    assert comparable(json.loads(json.dumps(local))) == comparable(served)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_errors_are_json_messages_with_the_right_status(live, run_id):
    post = lambda path, **kw: httpx.post(live.url + path, timeout=60, **kw)  # noqa: E731
    cases = [
        (post("/v1/classify", json={"model": "../../etc", "inputs": ["x"]}), 400, "invalid model"),
        (post("/v1/classify", json={"model": "small", "inputs": ["x"]}), 400, "'small' is a base"),
        (post("/v1/classify", json={"model": "ft-000000000000", "inputs": ["x"]}), 404, "unknown"),
        (post("/v1/classify", json={"model": run_id, "inputs": ["x"] * 97}), 422, "inputs:"),
        (post("/v1/classify", json={"model": run_id, "inputs": []}), 422, "inputs:"),
        (post("/v1/classify", json={"inputs": ["x"]}), 422, "model: Field required"),
        (
            post("/v1/embed", content=b"{not json", headers={"content-type": "application/json"}),
            400,
            "not valid JSON",
        ),
        (
            post("/v1/embed", json={"model": "small", "texts": ["x"], "images": ["data:"]}),
            400,
            "images are not supported",
        ),
        (
            post("/v1/embed", json={"model": "small", "texts": ["x"], "embedding_types": ["int8"]}),
            422,
            "embedding_types",
        ),
        (
            post("/v2/embed", json={"model": "small", "texts": ["x"], "output_dimension": 7}),
            400,
            "output_dimension must be 384",
        ),
        (
            post("/v1/embed", json={"model": run_id, "texts": ["word " * 100], "truncate": "NONE"}),
            400,
            "texts[0] is 102 tokens long and the model reads at most 32",
        ),
        (post("/v1/embed", content=b"x" * (4 * 1024 * 1024 + 1)), 413, "request body over"),
        (httpx.get(live.url + "/nothing/here"), 404, "Not Found"),
    ]
    for response, status, start in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert list(body) == ["message"] and start in body["message"], body
        assert "Traceback" not in response.text


@pytest.mark.slow
def test_truncation_start_and_end_keep_the_right_end(live, run_id):
    long = "the soup was too salty " * 20 + "she scored twice"
    got = {}
    for mode in ("START", "END"):
        r = httpx.post(
            f"{live.url}/v1/embed", json={"model": run_id, "texts": [long], "truncate": mode}
        )
        assert r.status_code == 200
        got[mode] = np.array(r.json()["embeddings"][0])
    tail = httpx.post(f"{live.url}/v1/embed", json={"model": run_id, "texts": ["she scored twice"]})
    tail_vec = np.array(tail.json()["embeddings"][0])
    # Keeping the end brings the sport tail into the vector; keeping the start does not.
    assert got["START"] @ tail_vec > got["END"] @ tail_vec


# -- security and limits -----------------------------------------------------------------------


@pytest.mark.slow
def test_api_key_is_required_except_on_health(store, run_id):
    with LiveServer(create_app(store, api_key="s3cret")) as server:
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


def test_model_cache_keeps_the_most_recently_used():
    cache, loads = ModelCache(capacity=2), []

    def loader(name):
        return lambda: loads.append(name) or name

    for name in ["a", "b", "a", "c", "a", "b"]:
        assert cache.get(name, loader(name)) == name
    assert loads == ["a", "b", "c", "b"] and cache.keys() == ["a", "b"]


def test_a_request_for_a_model_being_loaded_gets_503():
    cache, release = ModelCache(load_wait_s=0.2), threading.Event()
    loader = threading.Thread(target=cache.get, args=("m", lambda: release.wait(10) and "m"))
    loader.start()
    time.sleep(0.1)
    with pytest.raises(ModelLoading) as caught:
        cache.get("m", lambda: "never used", name="ft-x")
    assert caught.value.status == 503 and str(caught.value).startswith("model ft-x is loading")
    release.set()
    loader.join()
    assert cache.get("m", lambda: "not reloaded") == "m"


# -- the OpenAPI document and fuzzing ----------------------------------------------------------


@pytest.mark.slow
def test_openapi_document_fuzzed_with_schemathesis_has_no_server_errors(live):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    paths = schema.raw_schema["paths"]
    assert {"/v1/classify", "/v1/embed", "/v2/embed", "/v1/models", "/health"} <= set(paths)
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "POST":
            continue
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case):
                response = case.call(base_url=live.url, timeout=60)
                assert response.status_code < 500, (case.body, response.text)
                assert "message" in response.json() or response.status_code == 200

            fuzz()
            checked += 1
    assert checked == 6  # classify, embed v1, embed v2; positive and negative data


# -- the command line --------------------------------------------------------------------------


@pytest.mark.slow
def test_python_m_core_serve_starts_on_loopback(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "serve", "--port", str(port), "--runs-dir", str(tmp_path)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EMBEDTUNE_API_KEY": "k"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 401
        listed = httpx.get(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": "Bearer k"}
        )
        assert [m["name"] for m in listed.json()["models"]][:1] == ["small"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert f"on http://127.0.0.1:{port} (Authorization: Bearer KEY required)" in err


def test_snippets_are_a_valid_request_for_the_same_texts():
    import shlex

    curl, python = classify_snippets("ft-abc", ["it's great", 'say "hi"'])
    words = shlex.split(curl.replace("\\\n", " "))
    assert words[:3] == ["curl", "-s", "http://127.0.0.1:8000/v1/classify"]
    assert json.loads(words[-1]) == {"model": "ft-abc", "inputs": ["it's great", 'say "hi"']}
    compile(python, "snippet", "exec")
    assert 'model="ft-abc"' in python and '"say \\"hi\\""' in python

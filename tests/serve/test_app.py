"""The HTTP service: the official cohere client against a live server, errors, key, fuzzing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import cohere
import httpx
import numpy as np
import pytest

from core.model.classifier import load_embedder
from core.runs.resolve import load_run
from core.serve.app import create_app
from core.serve.wire import classify_body
from tests.helpers import ROOT
from tests.serve.helpers import LiveServer, free_port

TEXTS = ["she scored twice in the final", "the soup was too salty", "my phone keeps crashing"]


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


def test_the_service_answers_on_the_onnx_int8_backend(onnx_run):
    store, run_id = onnx_run.store, onnx_run.run_id
    with LiveServer(create_app(store, backend="onnx-int8")) as server:
        classified = httpx.post(
            f"{server.url}/v1/classify", json={"model": run_id, "inputs": TEXTS}, timeout=120
        )
        embedded = httpx.post(
            f"{server.url}/v1/embed", json={"model": run_id, "texts": TEXTS}, timeout=120
        )
    assert classified.status_code == 200 and embedded.status_code == 200
    torch_classifier = load_run(run_id, store, device="cpu")
    got = [c["prediction"] for c in classified.json()["classifications"]]
    assert got == torch_classifier.predict(TEXTS)
    vectors = np.array(embedded.json()["embeddings"])
    cosine = (vectors * torch_classifier.embed(TEXTS)).sum(axis=1)
    assert cosine.min() >= 0.95  # the int8 check's threshold


def test_an_onnx_service_without_its_packages_does_not_start(tmp_path, monkeypatch):
    from core.model.onnx import OnnxUnavailable
    from core.runs.store import RunStore

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(OnnxUnavailable, match=r"pip install -r requirements-onnx\.txt"):
        create_app(RunStore(tmp_path / "runs"), backend="onnx")

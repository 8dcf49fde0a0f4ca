"""The hosted Embed / Classify wire format: request limits and response bodies, without HTTP."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import EmbedtuneError

if TYPE_CHECKING:
    from core.model.classifier import Classification, Classifier, Embedder

# The hosted API takes 1 to 96 texts per call; clients (the cohere package) batch by 96.
MAX_INPUTS = 96
TRUNCATE_MODES = ("NONE", "START", "END")
EMBEDDING_TYPES = ("float", "base64")
API_VERSION = {"version": "1"}


class ApiError(EmbedtuneError):
    """A request the service refuses: the message is sent as {"message": ...} with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def new_id() -> str:
    return str(uuid.uuid4())


def count_tokens(embedder: Embedder, texts: Sequence[str]) -> list[int]:
    """Tokens per text as the model sees them, special tokens included."""
    tokenizer = embedder.model.tokenizer
    encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
    return [len(ids) for ids in encoded]


def prepare_texts(
    embedder: Embedder, texts: Sequence[str], truncate: str = "END", max_tokens: int | None = None
) -> list[str]:
    """The texts the model encodes: the run's cleaning applied, then fitted to its context.

    END keeps the start of an over-long text (the model's own truncation), START keeps its end,
    NONE refuses it, as the hosted API does."""
    if truncate not in TRUNCATE_MODES:
        raise ApiError(f"truncate must be one of {', '.join(TRUNCATE_MODES)}, got {truncate!r}")
    cleaned = [embedder.cleaning.apply(t) for t in texts]
    limit = (
        embedder.max_seq_length if max_tokens is None else min(max_tokens, embedder.max_seq_length)
    )
    if truncate == "END" and limit == embedder.max_seq_length:
        return cleaned  # the model cuts the end itself; no need to count tokens
    counts = count_tokens(embedder, cleaned)
    if truncate == "NONE":
        for i, n in enumerate(counts):
            if n > limit:
                raise ApiError(
                    f"texts[{i}] is {n} tokens long and the model reads at most {limit}: "
                    'shorten it or pass truncate "END" or "START"'
                )
        return cleaned
    tokenizer = embedder.model.tokenizer
    special = len(tokenizer("", add_special_tokens=True)["input_ids"])
    keep = max(1, limit - special)
    fitted = []
    for text, n in zip(cleaned, counts, strict=True):
        if n <= limit:
            fitted.append(text)
            continue
        tokens = tokenizer.tokenize(text)
        tokens = tokens[-keep:] if truncate == "START" else tokens[:keep]
        fitted.append(tokenizer.convert_tokens_to_string(tokens))
    return fitted


def encode_prepared(embedder: Embedder, prepared: Sequence[str]) -> np.ndarray:
    """Vectors of texts already cleaned by `prepare_texts` (the same encode as `embed`)."""
    from core.model.heads import encode

    return encode(embedder.model, list(prepared))


def classify_body(
    classifier: Classifier,
    inputs: Sequence[str],
    truncate: str = "END",
    response_id: str | None = None,
) -> dict[str, Any]:
    """The hosted Classify response for `inputs` (what POST /v1/classify returns)."""
    from core.model.classifier import classify_probabilities

    prepared = prepare_texts(classifier, inputs, truncate)
    probs = classifier.head.predict_proba(encode_prepared(classifier, prepared))
    return classify_response(classify_probabilities(classifier, inputs, probs), response_id)


def classify_response(
    results: Sequence[Classification], response_id: str | None = None
) -> dict[str, Any]:
    """Classification results in the hosted Classify response's shape; a multi-label result
    lists every chosen label in `predictions` and its confidence in `confidences`."""
    items = [
        {
            "id": new_id(),
            "input": r["input"],
            "prediction": r["prediction"],
            "predictions": r.get("predictions", [r["prediction"]]),
            "confidence": r["confidence"],
            "confidences": r.get("confidences", [r["confidence"]]),
            "labels": {label: {"confidence": p} for label, p in r["labels"].items()},
            "classification_type": "multi-label" if "predictions" in r else "single-label",
        }
        for r in results
    ]
    return {
        "id": response_id or new_id(),
        "classifications": items,
        "meta": {"api_version": API_VERSION, "billed_units": {"classifications": len(items)}},
    }


def _by_type(vectors: np.ndarray, types: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in types:
        if kind == "float":
            out["float"] = vectors.tolist()
        elif kind == "base64":
            # float32 little-endian bytes of each vector, as the hosted API encodes them
            out["base64"] = [
                base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors
            ]
        else:
            raise ApiError(
                f"embedding type {kind!r} is not supported: use {' or '.join(EMBEDDING_TYPES)}"
            )
    return out


def embed_body(
    embedder: Embedder,
    texts: Sequence[str],
    truncate: str = "END",
    embedding_types: Sequence[str] | None = None,
    max_tokens: int | None = None,
    by_type: bool = False,
    response_id: str | None = None,
) -> dict[str, Any]:
    """The hosted Embed response: v1 floats (`embeddings: [[...]]`) unless embedding types are
    asked for or `by_type` (v2), then `embeddings: {"float": [[...]], ...}`."""
    if embedding_types is not None:
        for kind in embedding_types:
            _by_type(np.zeros((0, 1), dtype=np.float32), [kind])  # refuse unknown kinds first
    vectors = encode_prepared(embedder, prepare_texts(embedder, texts, truncate, max_tokens))
    body: dict[str, Any] = {"id": response_id or new_id(), "texts": list(texts)}
    if embedding_types is None and not by_type:
        body["response_type"] = "embeddings_floats"
        body["embeddings"] = vectors.tolist()
    else:
        body["response_type"] = "embeddings_by_type"
        body["embeddings"] = _by_type(vectors, embedding_types or ["float"])
    body["meta"] = {"api_version": API_VERSION}
    return body


DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def classify_snippets(
    model: str, inputs: Sequence[str], base_url: str = DEFAULT_BASE_URL
) -> tuple[str, str]:
    """A copy-paste `curl` command and Python (official cohere client) call for this request."""
    body = json.dumps({"model": model, "inputs": list(inputs)}, ensure_ascii=False)
    quoted = "'" + body.replace("'", "'\\''") + "'"
    curl = (
        f"curl -s {base_url}/v1/classify \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -H 'Authorization: Bearer KEY' \\\n"
        f"  -d {quoted}"
    )
    listed = ",\n".join(f"        {json.dumps(t, ensure_ascii=False)}" for t in inputs)
    python = (
        "import cohere\n\n"
        "# The server: python -m core serve (add --api-key KEY to require a key)\n"
        f'co = cohere.Client(api_key="KEY", base_url="{base_url}")\n'
        "response = co.classify(\n"
        f'    model="{model}",\n'
        f"    inputs=[\n{listed},\n    ],\n"
        ")\n"
        "for c in response.classifications:\n"
        "    print(c.prediction, round(c.confidence, 3), c.input)"
    )
    return curl, python

"""The local Embed / Classify HTTP service: hosted-API wire format over runs and base models."""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import EmbedtuneError, ModelError, RunError
from core.model.catalogue import CATALOGUE, is_installed
from core.runs.store import RUN_ID_PATTERN, RunRecord, RunStore
from core.serve.wire import MAX_INPUTS, ApiError, classify_body, embed_body

log = logging.getLogger("embedtune.server")

# Two loaded models: a finetuned run and a base model side by side; each small one is ~90 MB.
DEFAULT_MAX_MODELS = 2
# 96 texts of ~40 KB each; larger bodies are refused before they are read in full.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Per client address: sustained requests per second and the burst allowed above it.
DEFAULT_RATE_PER_S = 200.0
DEFAULT_BURST = 400
# How long a request waits for a model another request is loading before answering 503.
DEFAULT_LOAD_WAIT_S = 60.0
UNAUTHENTICATED = ("/health",)


class Message(BaseModel):
    """Every error: one sentence a person can act on."""

    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Message, "description": text}
    for code, text in (
        (400, "bad request body or unusable input"),
        (401, "missing or wrong API key (when the server has one)"),
        (404, "unknown model"),
        (413, "request body too large"),
        (422, "request does not match the schema"),
        (429, "per-client rate limit hit; retry after the Retry-After seconds"),
        (503, "the model is still loading; retry after the Retry-After seconds"),
    )
}

Text = Annotated[str, StringConstraints(min_length=1)]
ModelId = Annotated[str, Field(min_length=1, max_length=64, examples=["small"])]
Truncate = Literal["NONE", "START", "END"]
InputType = Literal["search_document", "search_query", "classification", "clustering"]
EmbeddingType = Literal["float", "base64"]


class _Body(BaseModel):
    # Fields the hosted API has and this service does not use are accepted and ignored.
    model_config = ConfigDict(extra="ignore")


class ClassifyRequest(_Body):
    model: ModelId = Field(description="a completed run id")
    inputs: list[Text] = Field(min_length=1, max_length=MAX_INPUTS)
    truncate: Truncate = "END"
    examples: list[dict[str, Any]] | None = Field(
        default=None, description="not supported: finetune a run instead"
    )


class EmbedRequest(_Body):
    model: ModelId = Field(description="a completed run id, 'small' or 'large'")
    texts: list[str] = Field(min_length=1, max_length=MAX_INPUTS)
    input_type: InputType | None = Field(
        default=None, description="accepted; these models embed queries and documents alike"
    )
    embedding_types: list[EmbeddingType] | None = None
    truncate: Truncate = "END"
    images: list[str] | None = Field(default=None, description="not supported")


class EmbedV2Request(EmbedRequest):
    max_tokens: int | None = Field(default=None, ge=1)
    output_dimension: int | None = Field(default=None, ge=1)


class LabelConfidence(BaseModel):
    confidence: float


class Classification(BaseModel):
    id: str
    input: str
    prediction: str
    predictions: list[str]
    confidence: float
    confidences: list[float]
    labels: dict[str, LabelConfidence]
    classification_type: Literal["single-label"]


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")
    api_version: dict[str, str] | None = None


class ClassifyResponse(BaseModel):
    id: str
    classifications: list[Classification]
    meta: Meta


class EmbeddingsByType(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    float_: list[list[float]] | None = Field(default=None, alias="float")
    base64: list[str] | None = None


class EmbedFloatsResponse(BaseModel):
    response_type: Literal["embeddings_floats"]
    id: str
    texts: list[str]
    embeddings: list[list[float]]
    meta: Meta


class EmbedByTypeResponse(BaseModel):
    response_type: Literal["embeddings_by_type"]
    id: str
    texts: list[str]
    embeddings: EmbeddingsByType
    meta: Meta


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    endpoints: list[str]
    finetuned: bool
    context_length: int | None = None
    base_model: str
    labels: list[str] | None = None
    metrics: dict[str, Any] | None = None


class ModelList(BaseModel):
    models: list[ModelEntry]
    next_page_token: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    models_loaded: list[str]


class ModelLoading(ApiError):
    def __init__(self, model: str) -> None:
        super().__init__(f"model {model} is loading: retry in a few seconds", status=503)


class ModelCache:
    """Loaded models, least recently used dropped first; one load per model at a time."""

    def __init__(
        self, capacity: int = DEFAULT_MAX_MODELS, load_wait_s: float = DEFAULT_LOAD_WAIT_S
    ):
        self.capacity = max(1, capacity)
        self.load_wait_s = load_wait_s
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._loading: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()

    def keys(self) -> list[Any]:
        with self._lock:
            return list(self._items)

    def get(self, key: Any, load: Callable[[], Any], name: str = "") -> Any:
        """The model under `key`, loading it with `load()` when it is not kept (blocks)."""
        for _ in range(3):  # a load that failed elsewhere is tried again here
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
                event = self._loading.get(key)
                owner = event is None
                if owner:
                    event = self._loading[key] = threading.Event()
            if owner:
                try:
                    value = load()
                    with self._lock:
                        self._items[key] = value
                        while len(self._items) > self.capacity:
                            self._items.popitem(last=False)
                    return value
                finally:
                    with self._lock:
                        self._loading.pop(key, None)
                    event.set()
            if not event.wait(self.load_wait_s):
                raise ModelLoading(name or str(key))
        raise ModelLoading(name or str(key))


class _RateLimiter:
    """A token bucket per client address."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate, self.burst = rate_per_s, max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """0 when the request may go on, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > 10_000:  # forget idle clients; bounded memory
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1, now)
            return 0.0


async def _send_json(send: Any, status: int, body: dict[str, Any], headers: dict | None = None):
    payload = json.dumps(body).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class _Guard:
    """ASGI middleware: API key, per-client rate limit and body size, before any route runs."""

    def __init__(
        self,
        app: Any,
        api_key: str | None,
        limiter: _RateLimiter | None,
        max_body_bytes: int,
    ) -> None:
        self.app, self.api_key, self.limiter = app, api_key, limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        if self.api_key is not None and scope["path"] not in UNAUTHENTICATED:
            given = headers.get("authorization", b"")
            expected = f"Bearer {self.api_key}".encode()
            if not hmac.compare_digest(given, expected):
                await _send_json(
                    send,
                    401,
                    {"message": "missing or wrong API key: send 'Authorization: Bearer KEY'"},
                    {"www-authenticate": "Bearer"},
                )
                return
        if self.limiter is not None and scope["path"] not in UNAUTHENTICATED:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.wait_s(client)
            if wait > 0:
                await _send_json(
                    send,
                    429,
                    {"message": f"too many requests from {client}: retry in {wait:.1f} s"},
                    {"retry-after": str(max(1, round(wait)))},
                )
                return
        length = headers.get("content-length")
        too_large = {
            "message": f"request body over {self.max_body_bytes} bytes: send fewer or shorter texts"
        }
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _send_json(send, 413, too_large)
            return
        # Read the body here, counting, so that a chunked body without a length is bounded too.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                await _send_json(send, 413, too_large)
                return
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "the request body is not valid JSON"
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return 422, "; ".join(parts)


def create_app(
    store: RunStore | None = None,
    api_key: str | None = None,
    *,
    max_models: int = DEFAULT_MAX_MODELS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    rate_per_s: float | None = DEFAULT_RATE_PER_S,
    burst: int = DEFAULT_BURST,
    load_wait_s: float = DEFAULT_LOAD_WAIT_S,
    inference_threads: int = 1,
    device: str | None = None,
) -> FastAPI:
    """The FastAPI app serving the runs in `store` and the installed base models.

    `api_key` (or None for none) is required as `Authorization: Bearer KEY` on every route but
    /health; `rate_per_s=None` turns the per-client limit off. Inference runs in worker threads,
    `inference_threads` at a time (torch already uses every core for one batch)."""
    store = store or RunStore()
    cache = ModelCache(max_models, load_wait_s)
    inference = anyio.CapacityLimiter(max(1, inference_threads))
    app = FastAPI(
        title="Embedtune",
        version="1",
        description="Embed and Classify with finetuned runs and base models, in the hosted "
        "API's wire format (point the official cohere client's base_url here).",
    )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        return JSONResponse({"message": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(EmbedtuneError)
    async def _embedtune_error(request: Request, exc: EmbedtuneError) -> JSONResponse:
        return JSONResponse({"message": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return JSONResponse({"message": message}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(
            {"message": "internal error: the server log has the details"}, status_code=500
        )

    def completed_run(model: str) -> RunRecord:
        if not RUN_ID_PATTERN.fullmatch(model):
            raise ApiError(
                f"invalid model {model!r}: expected a run id (lower-case letters, digits, '-', "
                f"'_') or one of {', '.join(CATALOGUE)}",
                400,
            )
        if not (store.root / model).is_dir():
            raise ApiError(f"unknown model {model!r}: no such run in {store.root}", 404)
        try:
            record = store.get(model)
        except RunError as exc:
            raise ApiError(str(exc), 404) from exc
        if record.status != "completed":
            raise ApiError(f"run {model} is {record.status}: only a completed run can be used", 404)
        return record

    def resolve(model: str, classify: bool) -> Any:
        """The loaded classifier or embedder for a model id (blocks while loading)."""
        from core.model.classifier import load_embedder, load_run

        if model in CATALOGUE:
            if classify:
                raise ApiError(
                    f"{model!r} is a base model: it embeds but cannot classify; pass the id of "
                    "a completed run (GET /v1/models lists them)",
                    400,
                )
            if not is_installed(model):
                raise ApiError(
                    f"base model {model!r} is not installed: {CATALOGUE[model].install_command}",
                    404,
                )
            return cache.get(("base", model), lambda: load_embedder(model, device), model)
        record = completed_run(model)
        try:
            return cache.get(
                (record.id, record.finished_at), lambda: load_run(record.id, store, device), model
            )
        except (RunError, ModelError) as exc:
            raise ApiError(f"model {model} cannot be loaded: {exc}", 404) from exc

    async def run(fn: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(fn, limiter=inference)

    async def load(model: str, classify: bool) -> Any:
        return await anyio.to_thread.run_sync(lambda: resolve(model, classify))

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> dict[str, Any]:
        """Liveness; never needs the API key."""
        return {
            "status": "ok",
            "models_loaded": [str(k[1] if k[0] == "base" else k[0]) for k in cache.keys()],
        }

    @app.post(
        "/v1/classify",
        response_model=ClassifyResponse,
        responses=ERRORS,
        tags=["classify"],
    )
    async def classify(body: ClassifyRequest) -> JSONResponse:
        """Classify 1 to 96 texts with a completed run (hosted Classify API shape)."""
        if body.examples:
            raise ApiError(
                "examples are not supported: finetune a run on them and pass its id as model"
            )
        classifier = await load(body.model, classify=True)
        result = await run(lambda: classify_body(classifier, body.inputs, body.truncate))
        return JSONResponse(result)

    def check_embed(body: EmbedRequest) -> None:
        if body.images:
            raise ApiError("images are not supported: these models embed text only")

    @app.post(
        "/v1/embed",
        response_model=EmbedFloatsResponse | EmbedByTypeResponse,
        responses=ERRORS,
        tags=["embed"],
    )
    async def embed_v1(body: EmbedRequest) -> JSONResponse:
        """Embed 1 to 96 texts with a run or a base model (hosted Embed v1 shape)."""
        check_embed(body)
        embedder = await load(body.model, classify=False)
        result = await run(
            lambda: embed_body(embedder, body.texts, body.truncate, body.embedding_types)
        )
        return JSONResponse(result)

    @app.post("/v2/embed", response_model=EmbedByTypeResponse, responses=ERRORS, tags=["embed"])
    async def embed_v2(body: EmbedV2Request) -> JSONResponse:
        """Embed 1 to 96 texts (hosted Embed v2 shape: embeddings keyed by type)."""
        check_embed(body)
        embedder = await load(body.model, classify=False)
        dim = embedder.model.get_embedding_dimension()
        if body.output_dimension is not None and body.output_dimension != dim:
            raise ApiError(f"output_dimension must be {dim} for this model (or left out)")
        result = await run(
            lambda: embed_body(
                embedder,
                body.texts,
                body.truncate,
                body.embedding_types,
                max_tokens=body.max_tokens,
                by_type=True,
            )
        )
        return JSONResponse(result)

    def model_entries() -> list[dict[str, Any]]:
        entries = []
        for key, spec in CATALOGUE.items():
            if is_installed(key):
                entries.append(
                    {
                        "name": key,
                        "endpoints": ["embed"],
                        "finetuned": False,
                        "context_length": spec.max_seq_length,
                        "base_model": spec.name,
                        "embedding_dim": spec.embedding_dim,
                    }
                )
        for record in store.list():
            if not isinstance(record, RunRecord) or record.status != "completed":
                continue
            base = record.config.base_model
            context = CATALOGUE[base].max_seq_length if base in CATALOGUE else None
            if record.config.max_seq_length:
                context = min(record.config.max_seq_length, context or 10**9)
            entries.append(
                {
                    "name": record.id,
                    "endpoints": ["embed", "classify"],
                    "finetuned": True,
                    "context_length": context,
                    "base_model": base,
                    "labels": list(record.data.get("classes", [])),
                    "metrics": {
                        "baseline": record.baseline.metrics.to_dict() if record.baseline else None,
                        "finetuned": record.final.metrics.to_dict() if record.final else None,
                    },
                    "created_at": record.created_at,
                }
            )
        return entries

    @app.get("/v1/models", response_model=ModelList, responses=ERRORS, tags=["models"])
    async def models(endpoint: Literal["embed", "classify"] | None = None) -> dict[str, Any]:
        """Installed base models and completed runs, with their labels and metrics."""
        entries = await anyio.to_thread.run_sync(model_entries)
        if endpoint is not None:
            entries = [e for e in entries if endpoint in e["endpoints"]]
        return {"models": entries, "next_page_token": None}

    @app.get("/v1/models/{model}", response_model=ModelEntry, responses=ERRORS, tags=["models"])
    async def model_info(model: str) -> dict[str, Any]:
        """One model of the list."""
        if model not in CATALOGUE:
            await anyio.to_thread.run_sync(lambda: completed_run(model))
        for entry in await anyio.to_thread.run_sync(model_entries):
            if entry["name"] == model:
                return entry
        raise ApiError(f"unknown model {model!r}", 404)

    app.add_middleware(
        _Guard,
        api_key=api_key,
        limiter=_RateLimiter(rate_per_s, burst) if rate_per_s else None,
        max_body_bytes=max_body_bytes,
    )
    return app


def api_key_from_env(given: str | None) -> str | None:
    """The API key: the given one, else EMBEDTUNE_API_KEY, else None (no key required)."""
    return given or os.environ.get("EMBEDTUNE_API_KEY") or None


def serve(
    store: RunStore,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    **options: Any,
) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(store, api_key, **options), host=host, port=port, log_level="info")

"""The local Embed / Classify HTTP service: hosted-API wire format over runs and base models.

`create_app` puts the pieces together: the routes (core.serve.routes), the guard middleware
(API key, rate limit, body size: core.serve.guard), and one error shape, `{"message": ...}`."""

from __future__ import annotations

import logging
import os
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import EmbedtuneError
from core.runs.store import RunStore
from core.serve.cache import DEFAULT_LOAD_WAIT_S, DEFAULT_MAX_MODELS, ModelCache
from core.serve.guard import Guard, RateLimiter
from core.serve.routes import Service, router
from core.serve.wire import ApiError

log = logging.getLogger("embedtune.server")

# 96 texts of ~40 KB each; larger bodies are refused before they are read in full.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Per client address: sustained requests per second and the burst allowed above it.
DEFAULT_RATE_PER_S = 200.0
DEFAULT_BURST = 400


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
    backend: str = "torch",
    backends: tuple[str, ...] = (),
) -> FastAPI:
    """The FastAPI app serving the runs in `store` and the installed base models.

    `api_key` (or None for none) is required as `Authorization: Bearer KEY` on every route but
    /health; `rate_per_s=None` turns the per-client limit off. Inference runs in worker threads,
    `inference_threads` at a time (torch already uses every core for one batch). `backend`
    runs every model on that backend (core.model.onnx.BACKENDS; a run's body is made and
    checked on first use); a request may name one of `backends` instead (its `backend` field)."""
    from core.model.onnx import require_backend

    allowed = tuple(dict.fromkeys((backend, *backends)))
    for name in allowed:
        require_backend(name)  # at start, not at the first request
    app = FastAPI(
        title="Embedtune",
        version="1",
        description="Embed and Classify with finetuned runs and base models, in the hosted "
        "API's wire format (point the official cohere client's base_url here).",
    )
    app.state.service = Service(
        store=store or RunStore(),
        cache=ModelCache(max_models, load_wait_s),
        inference=anyio.CapacityLimiter(max(1, inference_threads)),
        device=device,
        backend=backend,
        backends=allowed,
    )
    app.include_router(router)
    for error, handler in _HANDLERS.items():
        app.add_exception_handler(error, handler)
    app.add_middleware(
        Guard,
        api_key=api_key,
        limiter=RateLimiter(rate_per_s, burst) if rate_per_s else None,
        max_body_bytes=max_body_bytes,
    )
    return app


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"Retry-After": "5"} if exc.status == 503 else None
    return JSONResponse({"message": str(exc)}, status_code=exc.status, headers=headers)


async def _embedtune_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"message": str(exc)}, status_code=400)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, message = _validation_message(exc)
    return JSONResponse({"message": message}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


async def _crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return JSONResponse(
        {"message": "internal error: the server log has the details"}, status_code=500
    )


_HANDLERS: dict[Any, Any] = {
    ApiError: _api_error,
    EmbedtuneError: _embedtune_error,
    RequestValidationError: _invalid,
    StarletteHTTPException: _http_error,
    Exception: _crash,
}


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

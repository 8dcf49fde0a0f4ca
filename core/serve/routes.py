"""The service's routes: health, Embed (v1, v2), Classify and the model list. Each route parses
its body (schemas), resolves the model name (core.runs.resolve), runs inference in a worker
thread and answers in the hosted wire format (core.serve.wire)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from core.errors import ModelError, RunError
from core.model.catalogue import CATALOGUE, is_installed
from core.model.heads import embedding_dim
from core.runs.resolve import ModelRef, UnknownModel, load, resolve
from core.runs.store import RunRecord, RunStore
from core.serve.cache import ModelCache
from core.serve.schemas import (
    ERRORS,
    ClassifyRequest,
    ClassifyResponse,
    EmbedByTypeResponse,
    EmbedFloatsResponse,
    EmbedRequest,
    EmbedV2Request,
    Health,
    ModelEntry,
    ModelList,
)
from core.serve.wire import ApiError, classify_body, embed_body


@dataclass
class Service:
    """What every route shares: the runs, the loaded models, and the inference slots."""

    store: RunStore
    cache: ModelCache
    inference: anyio.CapacityLimiter
    device: str | None = None
    backend: str = "torch"  # the default backend (core.model.onnx.BACKENDS)
    backends: tuple[str, ...] = ()  # those a request may ask for (`backend`); () = the default

    def find(self, name: str, classify: bool = False) -> ModelRef:
        """The model a request names; an unknown one is 404, a wrong kind 400."""
        try:
            return resolve(name, self.store, classify=classify)
        except UnknownModel as exc:
            raise ApiError(str(exc), 404) from exc
        except RunError as exc:
            raise ApiError(str(exc), 400) from exc

    def choose(self, backend: str | None) -> str:
        """The backend a request runs on: its own when the service allows it, else 400."""
        if backend is None or backend == self.backend:
            return self.backend
        allowed = self.backends or (self.backend,)
        if backend not in allowed:
            raise ApiError(
                f"backend {backend!r} is not enabled on this service: it allows "
                f"{', '.join(allowed)} (start it with --backends to allow more)"
            )
        return backend

    def loaded(self, name: str, classify: bool, backend: str | None = None) -> Any:
        """The loaded classifier or embedder for a model name (blocks while loading; a run's
        body on another backend is made and checked on first use)."""
        ref = self.find(name, classify)
        chosen = self.choose(backend)
        try:
            return self.cache.get(
                (ref.name, ref.finished_at, chosen),
                lambda: load(ref, self.device, chosen),
                name,
            )
        except (RunError, ModelError) as exc:
            raise ApiError(f"model {name} cannot be loaded: {exc}", 404) from exc

    async def load(self, name: str, classify: bool, backend: str | None = None) -> Any:
        return await anyio.to_thread.run_sync(lambda: self.loaded(name, classify, backend))

    async def run(self, fn: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(fn, limiter=self.inference)

    def model_entries(self) -> list[dict[str, Any]]:
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
        for record in self.store.list():
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
                    "labels": list(record.data.classes),
                    "metrics": {
                        "baseline": record.baseline.metrics.to_dict() if record.baseline else None,
                        "finetuned": record.final.metrics.to_dict() if record.final else None,
                    },
                    "created_at": record.created_at,
                }
            )
        return entries


def service(request: Request) -> Service:
    """The app's Service (a FastAPI dependency)."""
    return request.app.state.service


Shared = Annotated[Service, Depends(service)]
router = APIRouter()


@router.get("/health", response_model=Health, tags=["service"])
async def health(svc: Shared) -> dict[str, Any]:
    """Liveness; never needs the API key."""
    return {"status": "ok", "models_loaded": [str(key[0]) for key in svc.cache.keys()]}


@router.post(
    "/v1/classify",
    response_model=ClassifyResponse,
    responses=ERRORS,
    tags=["classify"],
)
async def classify(body: ClassifyRequest, svc: Shared) -> JSONResponse:
    """Classify 1 to 96 texts with a completed run (hosted Classify API shape)."""
    if body.examples:
        raise ApiError(
            "examples are not supported: finetune a run on them and pass its id as model"
        )
    classifier = await svc.load(body.model, classify=True, backend=body.backend)
    result = await svc.run(lambda: classify_body(classifier, body.inputs, body.truncate))
    return JSONResponse(result)


def _check_embed(body: EmbedRequest) -> None:
    if body.images:
        raise ApiError("images are not supported: these models embed text only")


@router.post(
    "/v1/embed",
    response_model=EmbedFloatsResponse | EmbedByTypeResponse,
    responses=ERRORS,
    tags=["embed"],
)
async def embed_v1(body: EmbedRequest, svc: Shared) -> JSONResponse:
    """Embed 1 to 96 texts with a run or a base model (hosted Embed v1 shape)."""
    _check_embed(body)
    embedder = await svc.load(body.model, classify=False, backend=body.backend)
    result = await svc.run(
        lambda: embed_body(embedder, body.texts, body.truncate, body.embedding_types)
    )
    return JSONResponse(result)


@router.post("/v2/embed", response_model=EmbedByTypeResponse, responses=ERRORS, tags=["embed"])
async def embed_v2(body: EmbedV2Request, svc: Shared) -> JSONResponse:
    """Embed 1 to 96 texts (hosted Embed v2 shape: embeddings keyed by type)."""
    _check_embed(body)
    embedder = await svc.load(body.model, classify=False, backend=body.backend)
    dim = embedding_dim(embedder.model)
    if body.output_dimension is not None and body.output_dimension != dim:
        raise ApiError(f"output_dimension must be {dim} for this model (or left out)")
    result = await svc.run(
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


@router.get("/v1/models", response_model=ModelList, responses=ERRORS, tags=["models"])
async def models(
    svc: Shared, endpoint: Literal["embed", "classify"] | None = None
) -> dict[str, Any]:
    """Installed base models and completed runs, with their labels and metrics."""
    entries = await anyio.to_thread.run_sync(svc.model_entries)
    if endpoint is not None:
        entries = [e for e in entries if endpoint in e["endpoints"]]
    return {"models": entries, "next_page_token": None}


@router.get("/v1/models/{model}", response_model=ModelEntry, responses=ERRORS, tags=["models"])
async def model_info(model: str, svc: Shared) -> dict[str, Any]:
    """One model of the list."""
    ref = await anyio.to_thread.run_sync(lambda: svc.find(model))
    for entry in await anyio.to_thread.run_sync(svc.model_entries):
        if entry["name"] == ref.name:
            return entry
    raise ApiError(f"unknown model {model!r}", 404)

"""The HTTP service's request and response schemas (pydantic): the hosted Embed / Classify
API's fields, validated before any route runs; they make the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.serve.wire import MAX_INPUTS


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


# Embedtune's own field (the official cohere client sends it with request_options=
# {"additional_body_parameters": {"backend": ...}}): the inference backend of this request.
BACKEND_FIELD = Field(
    default=None,
    description="Embedtune only: the inference backend for this request (one the service was "
    "started to allow; default: its own)",
)


class ClassifyRequest(_Body):
    model: ModelId = Field(description="a completed run id")
    backend: str | None = BACKEND_FIELD
    inputs: list[Text] = Field(min_length=1, max_length=MAX_INPUTS)
    truncate: Truncate = "END"
    examples: list[dict[str, Any]] | None = Field(
        default=None, description="not supported: finetune a run instead"
    )


class EmbedRequest(_Body):
    model: ModelId = Field(description="a completed run id, 'small' or 'large'")
    backend: str | None = BACKEND_FIELD
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
    classification_type: Literal["single-label", "multi-label"]


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

"""Embedtune: finetune sentence-embedding models into text classifiers, on your own machine."""

from __future__ import annotations

from core.env import set_offline_env

set_offline_env()  # before anything imports transformers / huggingface_hub

from core.errors import (  # noqa: E402
    ConfigError,
    DataError,
    EmbedtuneError,
    ModelError,
    RunError,
    StorageError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "EmbedtuneError",
    "ModelError",
    "RunError",
    "StorageError",
]

"""Embedtune: finetune sentence-embedding models into text classifiers, on your own machine.

The public API, imported lazily (``import core`` stays fast; torch loads only when a model does)::

    from core import read_labeled_csv, prepare_dataset, TrainConfig, RunStore, submit, wait
    from core import load_run, load_embedder
"""

from __future__ import annotations

import importlib
from typing import Any

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

_API = {
    "read_labeled_csv": "core.data",
    "LabeledTexts": "core.data",
    "DataSet": "core.data",
    "split": "core.data",
    "CleaningConfig": "core.cleaning",
    "review": "core.review",
    "Review": "core.review",
    "review_for_model": "core.prepare",
    "prepare_dataset": "core.prepare",
    "find_label_issues": "core.label_issues",
    "LabelIssues": "core.label_issues",
    "TrainConfig": "core.config",
    "RunStore": "core.runs",
    "RunRecord": "core.runs",
    "submit": "core.jobs",
    "wait": "core.jobs",
    "load_run": "core.predict",
    "load_embedder": "core.predict",
    "run_batch": "core.batch",
    "Classifier": "core.predict",
    "list_models": "core.models",
    "choose_device": "core.models",
}

__all__ = [
    "ConfigError",
    "DataError",
    "EmbedtuneError",
    "ModelError",
    "RunError",
    "StorageError",
    *_API,
]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")

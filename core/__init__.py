"""Embedtune: finetune sentence-embedding models into text classifiers, on your own machine.

The public API, imported lazily (``import core`` stays fast; torch loads only when a model does)::

    from core import read_labeled, prepare_dataset, TrainConfig, RunStore, submit, wait
    from core import load_run, load_embedder
    from core import export_run  # load_run(run_id, backend="onnx-int8") runs the ONNX body
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
    "read_labeled": "core.data.files",
    "read_table": "core.data.files",
    "read_labeled_csv": "core.data.files",
    "LabeledTexts": "core.data.labeled",
    "DataSet": "core.data.labeled",
    "split": "core.data.labeled",
    "CleaningConfig": "core.data.cleaning",
    "review": "core.quality.review",
    "Review": "core.quality.review",
    "review_for_model": "core.quality.prepare",
    "prepare_dataset": "core.quality.prepare",
    "find_label_issues": "core.quality.label_issues",
    "LabelIssues": "core.quality.label_issues",
    "TrainConfig": "core.config",
    "RunStore": "core.runs.store",
    "RunRecord": "core.runs.store",
    "submit": "core.runs.jobs",
    "wait": "core.runs.jobs",
    "load_run": "core.runs.resolve",
    "estimate": "core.runs.estimate",
    "status_line": "core.runs.status",
    "runs_of": "core.runs.matching",
    "load_embedder": "core.model.classifier",
    "run_batch": "core.batch.job",
    "export_run": "core.runs.export",
    "model_card": "core.runs.card",
    "BACKENDS": "core.model.onnx",
    "Classifier": "core.model.classifier",
    "list_models": "core.model.catalogue",
    "choose_device": "core.model.catalogue",
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

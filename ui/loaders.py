"""Cached, bounded loaders: models load once per process, never on a page switch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from core.config import TrainConfig
from core.data.labeled import LabeledTexts
from core.runs.store import RunStore

if TYPE_CHECKING:
    from core.model.catalogue import DeviceInfo, ModelInfo
    from core.model.classifier import Classifier, Embedder
    from core.model.maps import ComparisonMaps


@st.cache_resource(max_entries=2, show_spinner="Loading the base model…")
def embedder(model: str, backend: str = "torch") -> Embedder:
    """A base model for embedding (both catalogue models fit in memory together); on a backend
    other than torch its body is made and checked once (seconds)."""
    from core.model.classifier import load_embedder

    return load_embedder(model, backend=backend)


@st.cache_resource(max_entries=3, show_spinner="Loading the finetuned model…")
def classifier(
    root: str, run_id: str, finished_at: str | None, backend: str = "torch"
) -> Classifier:
    """A completed run's classifier; `finished_at` keys out a deleted and retrained run. On a
    backend other than torch the run's body is made and checked on first use."""
    from core.runs.resolve import load_run

    return load_run(run_id, RunStore(root), backend=backend)


@st.cache_resource(show_spinner=False)
def device() -> DeviceInfo:
    from core.model.catalogue import choose_device

    return choose_device()


@st.cache_data(ttl=60, show_spinner=False)
def models() -> list[ModelInfo]:
    from core.model.catalogue import list_models

    return list_models()


@st.cache_data(max_entries=8, show_spinner=False)
def comparison_maps(
    root: str,
    run_id: str,
    finished_at: str | None,
    texts: tuple[str, ...],
    labels: tuple[str, ...] | None,
) -> ComparisonMaps:
    """Base-versus-finetuned maps of these texts for a run (cached per run and texts)."""
    from core.model.maps import compare_maps

    store = RunStore(root)
    record = store.get(run_id)
    train: LabeledTexts | None = store.load_dataset(run_id).train
    config: TrainConfig = record.config
    return compare_maps(
        embedder(config.base_model),
        classifier(root, run_id, finished_at),
        texts,
        labels,
        train=train,
        config=config,
    )

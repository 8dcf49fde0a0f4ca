"""A pool's embeddings, computed once per (texts, model) and kept in a folder as .npy files, so
each batch of a labelling session, a restart and the next `core suggest` reuse them."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.errors import StorageError
from core.io import atomic_path

Encode = Callable[[Sequence[str]], np.ndarray]
Progress = Callable[[int, int, float], None]  # texts done, texts in all, seconds so far
CHUNK = 256
"""Texts encoded between two progress reports: about a second of the small model on 2 cores."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def texts_fingerprint(texts: Sequence[str]) -> str:
    """sha256 of the texts in order (one JSON string a line: unambiguous whatever they hold)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(json.dumps(text, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def cache_path(folder: Path, model_key: str, texts: Sequence[str]) -> Path:
    """Where the embeddings of `texts` by the model called `model_key` are kept."""
    return folder / f"{_UNSAFE.sub('_', model_key)[:80]}-{texts_fingerprint(texts)[:32]}.npy"


def cached_embeddings(
    encode: Encode,
    texts: Sequence[str],
    *,
    model_key: str,
    folder: Path | None,
    progress: Progress | None = None,
) -> np.ndarray:
    """The embeddings of `texts` (float32, one row each): read from `folder` when these texts
    were embedded by this model before, else encoded in chunks (`progress` after each) and
    saved there whole. `model_key` names the model's weights: a base model's key, or a run's id
    and finish time (a retrained run embeds differently). No folder: computed, not kept."""
    path = cache_path(folder, model_key, texts) if folder is not None else None
    if path is not None and path.is_file():
        try:
            kept = np.load(path, allow_pickle=False)
            if kept.ndim == 2 and kept.shape[0] == len(texts):
                if progress is not None:
                    progress(len(texts), len(texts), 0.0)
                return kept
        except (OSError, ValueError):
            pass  # a damaged file is computed again
    start = time.perf_counter()
    parts = []
    for begin in range(0, len(texts), CHUNK):
        parts.append(np.asarray(encode(list(texts[begin : begin + CHUNK])), dtype=np.float32))
        if progress is not None:
            done = min(begin + CHUNK, len(texts))
            progress(done, len(texts), time.perf_counter() - start)
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.save(handle, vectors, allow_pickle=False)
        except OSError as exc:
            raise StorageError(
                f"cannot keep the embeddings in {path.parent}: {exc.strerror or exc}"
            ) from exc
    return vectors

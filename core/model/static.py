"""The static backend: a model2vec model distilled from a body (each vocabulary token embedded
once by the body, reduced by PCA and weighted), so a text's embedding is the mean of its tokens'
vectors: no transformer at run time, one to two orders of magnitude faster, a few points less
accurate (docs/BENCHMARKS.md, "Backends"). The head is refitted on its embeddings
(core.runs.static); the check compares its predictions with the run's.

Safe loading: the distilled model is a safetensors table and a tokenizer.json, read by
sentence-transformers' StaticEmbedding (model2vec itself is needed only to distil)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelError
from core.model.onnx import require_backend
from core.records import Record

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

STATIC_DIR = "static"  # inside a model folder (a run's model/static), or at an export's top
CHECK_FILE = "check.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
PCA_DIMS = 256  # model2vec's default
# The check: a static model is kept when its validation macro-F1 is at most this far below the
# run's own (measured on the 8 shared sets: docs/BENCHMARKS.md, "Backends").
MAX_F1_DROP = 0.15


@dataclass(frozen=True)
class StaticCheck(Record):
    """How a static model's predictions compare with its run's on the validation texts."""

    texts: int
    agreement: float  # share of texts with the same predicted label(s) as the run's
    macro_f1: float  # validation macro-F1 of the static model with its refitted head
    macro_f1_torch: float  # the run's own
    max_drop: float
    passed: bool
    dims: int = 0
    vocabulary: int = 0
    bytes: int = 0
    seconds: float = 0.0  # distilling and refitting

    def describe(self) -> str:
        return (
            f"static on {self.texts} validation texts: macro-F1 {self.macro_f1:.4f} against the "
            f"run's {self.macro_f1_torch:.4f} (at most {self.max_drop:.2f} lower), predictions "
            f"agree on {self.agreement:.1%}"
        )


def distill_body(folder: Path, dest: Path, pca_dims: int = PCA_DIMS) -> None:
    """model2vec's `distill` of the body in `folder` (offline, from the folder), saved in
    `dest`; run in bf16 where the CPU multiplies bf16 (each vocabulary token through the body:
    the slow part)."""
    require_backend("static")
    import torch

    from core.model.catalogue import cpu_supports_bf16

    try:
        from model2vec.distill import distill_from_model
        from transformers import AutoModel, AutoTokenizer

        body: Any = AutoModel.from_pretrained(str(folder), trust_remote_code=False)
        if cpu_supports_bf16():  # the body's forward in bf16, model2vec's pooling in fp32
            from core.model.onnx.bf16 import bf16_module

            body = bf16_module(body)
        tokenizer: Any = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
        with torch.inference_mode(), contextlib.redirect_stderr(io.StringIO()):  # its bar
            model = distill_from_model(
                model=body, tokenizer=tokenizer, pca_dims=pca_dims, device="cpu"
            )
        model.save_pretrained(str(dest))
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - model2vec raises many types
        lines = str(exc).strip().splitlines()
        raise ModelError(
            f"cannot distil a static model from {folder}: {lines[0] if lines else exc}"
        ) from exc


def load_static(folder: Path) -> SentenceTransformer:
    """The static model in `folder` as a SentenceTransformer (token vectors averaged, then
    normalised, as the heads expect): only safetensors and tokenizer.json are read."""
    import numpy as np
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from tokenizers import Tokenizer

    folder = Path(folder)
    try:
        tables = load_file(str(folder / WEIGHTS_FILE))
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"the static model in {folder} is missing or damaged: {exc}") from exc
    if "embeddings" not in tables or tables["embeddings"].ndim != 2:
        raise ModelError(f"the static model in {folder} has no embedding table")
    weights = np.asarray(tables["embeddings"], dtype=np.float32)
    if tokenizer.get_vocab_size() != len(weights):
        raise ModelError(
            f"the static model in {folder} has {len(weights)} vectors for a vocabulary of "
            f"{tokenizer.get_vocab_size()} tokens"
        )
    embedding = StaticEmbedding(tokenizer, embedding_weights=weights)
    return SentenceTransformer(modules=[embedding, Normalize()], device="cpu")


def read_check(folder: Path) -> StaticCheck | None:
    try:
        return StaticCheck.from_dict(
            json.loads((Path(folder) / CHECK_FILE).read_text(encoding="utf-8"))
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_check(folder: Path, check: StaticCheck) -> None:
    from core.io import atomic_write_text

    atomic_write_text(Path(folder) / CHECK_FILE, json.dumps(check.to_dict(), indent=2))


def checked_static(folder: Path) -> Path:
    """`folder` when it holds a static model that passed its check, else a ModelError."""
    check = read_check(folder)
    if check is None or not check.passed or not (Path(folder) / WEIGHTS_FILE).is_file():
        raise ModelError(f"{folder} holds no checked static model: export it first")
    return Path(folder)


def base_static(model: str) -> SentenceTransformer:
    """A base model (key or folder) distilled once into the cache folder."""
    import hashlib
    import shutil
    import tempfile

    from filelock import FileLock

    from core.model.catalogue import cache_dir, model_path

    folder = model_path(model)
    require_backend("static")
    where = hashlib.sha256(folder.resolve().as_posix().encode()).hexdigest()[:12]
    dest = cache_dir() / "static" / f"{folder.name}-{where}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock"):
        if not (dest / WEIGHTS_FILE).is_file():
            staging = Path(tempfile.mkdtemp(prefix=".distilling-", dir=dest.parent))
            try:
                distill_body(folder, staging)
                shutil.rmtree(dest, ignore_errors=True)
                os.replace(staging, dest)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return load_static(dest)

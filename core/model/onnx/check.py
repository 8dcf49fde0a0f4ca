"""The check that an exported body answers as the PyTorch one does (the cosine of every text's
embedding and the head's prediction agreement), and the bodies kept only after passing it:
`ensure_body` exports (core.model.onnx.export), quantises (core.model.onnx.quantize), checks and
keeps; `load_body` runs a kept one (core.model.onnx.runtime)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ModelError
from core.model.onnx.export import FP32_RECIPES, export_fp32, quiet
from core.model.onnx.quantize import INT8_RECIPES, quantize_int8
from core.model.onnx.runtime import FILES, ONNX_DIR, check_backend, load_onnx, require_onnx
from core.records import Record

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from core.model.heads import Head

CHECKS_FILE = "checks.json"  # beside the ONNX files: each body's check figures

# The check: every validation text's exported embedding against the PyTorch one (cosine), and the
# share of texts whose predicted label stays the same. fp32 differs from PyTorch only in the order
# of float additions (measured cosine > 0.9999); int8 loses more (measured 0.98-0.99 per text).
MIN_COSINE = {"onnx": 0.99, "onnx-int8": 0.95}
MIN_AGREEMENT = {"onnx": 0.98, "onnx-int8": 0.98}
# How each backend's body is made now, tried in order until one passes the check; a kept body
# made another way is exported again. fp32: the graph ONNX Runtime's transformer optimizer fuses
# (`export_fused`), else PyTorch's dynamo export as it is. int8 (quantised from the fp32 body
# kept) keeps the feed-forward down-projections in fp32, or, when that still answers too
# differently (MPNet: min cosine 0.947), both feed-forward products.
RECIPES = {"onnx": FP32_RECIPES, "onnx-int8": INT8_RECIPES}
CHECK_TEXTS = 512  # validation texts checked at most (a few seconds on 2 CPU cores)


class ExportRefused(ModelError):
    """An exported body answers differently from the PyTorch one: nothing was written."""


@dataclass(frozen=True)
class BodyCheck(Record):
    """How an exported body compares with the PyTorch one on the same texts."""

    backend: str
    texts: int
    min_cosine: float
    mean_cosine: float
    agreement: float | None  # share of texts with the same predicted label (None: no head)
    min_cosine_required: float
    agreement_required: float
    passed: bool
    file: str = ""
    bytes: int = 0
    recipe: str = ""  # how the body was made (RECIPES); an older recipe's body is made again

    def describe(self) -> str:
        agreement = (
            f", predictions agree on {self.agreement:.1%} (at least {self.agreement_required:.0%})"
            if self.agreement is not None
            else ""
        )
        return (
            f"{self.backend} on {self.texts} texts: cosine with PyTorch min {self.min_cosine:.4f} "
            f"(at least {self.min_cosine_required}), mean {self.mean_cosine:.4f}{agreement}"
        )


def compare(
    backend: str, reference: np.ndarray, candidate: np.ndarray, head: Head | None = None
) -> BodyCheck:
    """The check figures of `candidate` embeddings against the PyTorch `reference` ones."""
    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(candidate, dtype=np.float64)
    if ref.shape != got.shape or not len(ref):
        raise ModelError(f"cannot compare embeddings of shapes {ref.shape} and {got.shape}")
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cosine = (ref * got).sum(axis=1) / np.maximum(norms, 1e-12)
    cosine = np.nan_to_num(cosine, nan=-1.0)
    agreement = None
    if head is not None:
        agreement = float(np.mean(head.predict(ref) == head.predict(got)))
    min_cos, need_agree = MIN_COSINE[backend], MIN_AGREEMENT[backend]
    passed = bool(cosine.min() >= min_cos and (agreement is None or agreement >= need_agree))
    return BodyCheck(
        backend=backend,
        texts=len(ref),
        min_cosine=round(float(cosine.min()), 6),
        mean_cosine=round(float(cosine.mean()), 6),
        agreement=None if agreement is None else round(agreement, 6),
        min_cosine_required=min_cos,
        agreement_required=need_agree,
        passed=passed,
    )


def read_checks(onnx_dir: Path) -> dict[str, BodyCheck]:
    """The check figures stored beside the exported bodies (empty when none)."""
    try:
        raw = json.loads((onnx_dir / CHECKS_FILE).read_text(encoding="utf-8"))
        return {key: BodyCheck.from_dict(value) for key, value in raw.items()}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def write_checks(onnx_dir: Path, checks: dict[str, BodyCheck]) -> None:
    from core.io import atomic_write_text

    text = json.dumps({k: v.to_dict() for k, v in sorted(checks.items())}, indent=2)
    atomic_write_text(onnx_dir / CHECKS_FILE, text)


def ensure_body(
    folder: Path,
    backend: str,
    texts: Sequence[str],
    head: Head | None = None,
    onnx_dir: Path | None = None,
    reference: SentenceTransformer | None = None,
) -> BodyCheck:
    """The exported body of `backend` for the model `folder`, in `onnx_dir` (default
    folder/onnx): kept when it passed its check before, else exported, checked against the
    PyTorch body on `texts` (and `head`'s predictions), and written only when it passes.
    Raises ExportRefused (writing nothing) when it answers differently."""
    from filelock import FileLock

    from core.model.heads import encode

    check_backend(backend)
    if backend == "torch":
        raise ModelError("the torch backend is the model folder itself: nothing to export")
    require_onnx()
    onnx_dir = onnx_dir or folder / ONNX_DIR
    texts = [t for t in texts if t][:CHECK_TEXTS]
    if not texts:
        raise ModelError("no texts to check the exported body on")
    onnx_dir.mkdir(parents=True, exist_ok=True)
    target = onnx_dir / FILES[backend]
    if backend == "onnx-int8":  # quantised from the checked fp32 body
        ensure_body(folder, "onnx", texts, head, onnx_dir, reference)
    with FileLock(str(onnx_dir / ".export.lock")):
        known = read_checks(onnx_dir).get(backend)
        if known is not None and known.passed and _current(known) and target.is_file():
            return known
        if reference is None:
            from core.model.catalogue import load_model

            reference = load_model(str(folder), device="cpu")
        reference_vectors = encode(reference, texts)
        for recipe in RECIPES[backend]:
            try:
                check = _export_checked(
                    folder, backend, recipe, reference, reference_vectors, texts, head, onnx_dir
                )
            except ModelError:
                if recipe == RECIPES[backend][-1]:
                    raise
                continue  # this exporter cannot make this model: the next way may
            if check.passed:
                break
        else:
            tried = (
                f" (tried {len(RECIPES[backend])} ways: {', '.join(RECIPES[backend])})"
                if len(RECIPES[backend]) > 1
                else ""
            )
            raise ExportRefused(
                f"the {backend} export answers differently from the PyTorch model, so it was "
                f"not kept: {check.describe()}{tried}"
            )
        write_checks(onnx_dir, {**read_checks(onnx_dir), backend: check})
        return check


def _export_checked(
    folder: Path,
    backend: str,
    recipe: str,
    reference: SentenceTransformer,
    reference_vectors: np.ndarray,
    texts: Sequence[str],
    head: Head | None,
    onnx_dir: Path,
) -> BodyCheck:
    """Export the body one way, check it against the PyTorch vectors, and put it in place only
    when it passes (the figures are returned either way; a failed file is removed)."""
    from core.model.heads import encode

    target = onnx_dir / FILES[backend]
    fd, name = tempfile.mkstemp(prefix=".exporting-", suffix=".onnx", dir=onnx_dir)
    os.close(fd)
    staged = Path(name)
    try:
        try:
            if backend == "onnx":
                quiet(export_fp32, reference, staged, recipe)
            else:
                quiet(quantize_int8, onnx_dir / FILES["onnx"], staged, recipe)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - the exporters raise many types
            lines = str(exc).strip().splitlines()
            raise ModelError(
                f"the {backend} export of {folder} failed: "
                f"{lines[0] if lines else type(exc).__name__}"
            ) from exc
        exported = load_onnx(folder, staged)
        check = compare(backend, reference_vectors, encode(exported, texts), head)
        check = BodyCheck.from_dict(
            {
                **check.to_dict(),
                "file": f"{ONNX_DIR}/{target.name}",
                "bytes": staged.stat().st_size,
                "recipe": recipe,
            }
        )
        if check.passed:
            staged.chmod(0o644)  # mkstemp's 0600 would hide the model from other users
            os.replace(staged, target)
        return check
    finally:
        staged.unlink(missing_ok=True)


def _current(check: BodyCheck) -> bool:
    """Whether a kept body was made the way its backend's bodies are made now (an fp32 body
    kept before recipes were recorded is; an int8 one quantised its down-projections too)."""
    if check.backend == "onnx" and check.recipe == "":
        return True
    return check.recipe in RECIPES[check.backend]


def load_body(
    folder: Path, backend: str, onnx_dir: Path | None = None, threads: int | None = None
) -> SentenceTransformer:
    """The SentenceTransformer of `folder` on `backend` (its exported body must exist and have
    passed its check: `ensure_body` makes it)."""
    check_backend(backend)
    if backend == "torch":
        from core.model.catalogue import load_model

        return load_model(str(folder))
    require_onnx()
    onnx_dir = onnx_dir or folder / ONNX_DIR
    check = read_checks(onnx_dir).get(backend)
    file = onnx_dir / FILES[backend]
    if check is None or not check.passed or not file.is_file():
        raise ModelError(f"{folder} has no checked {backend} body: export it first")
    return load_onnx(folder, file, threads)


# Texts a base model's exported body is checked on (a base model has no validation split):
# short and long, several languages and registers, digits and symbols.
SAMPLE_TEXTS = (
    "I love how fast this works!",
    "Total waste of money, it broke after a day.",
    "What time does the pharmacy on Main Street open on Sundays?",
    "Transfer 250 dollars from my savings to my checking account",
    "The match was postponed because of heavy rain in the second half.",
    "A spicy curry with rice and a cold beer",
    "The laptop overheats whenever I open more than three browser tabs",
    "Das Essen war kalt und der Kellner unfreundlich.",
    "Le film était long mais magnifique.",
    "ok",
    "Error 404: page not found (see https://example.com/help)",
    "Can you remind me to call mom at 6pm tomorrow?",
    "The quarterly report shows revenue up 12% year over year, driven by subscriptions, while "
    "costs rose only 3%; the board expects the trend to continue into the next fiscal year.",
    "i am feeling really anxious about the exam next week and cannot sleep",
    "Free entry in a weekly competition to win cup final tickets, text WIN to 80086 now!",
    "The plot was predictable but the acting saved it.",
)


def base_body(model: str, backend: str) -> SentenceTransformer:
    """A base model (key or folder) on an ONNX backend: its body exported once into the cache
    folder (`EMBEDTUNE_CACHE_DIR`), checked on SAMPLE_TEXTS."""
    import hashlib

    from core.model.catalogue import cache_dir, model_path

    folder = model_path(model)
    require_onnx()
    where = hashlib.sha256(folder.resolve().as_posix().encode()).hexdigest()[:12]
    onnx_dir = cache_dir() / "onnx" / f"{folder.name}-{where}"
    ensure_body(folder, backend, SAMPLE_TEXTS, onnx_dir=onnx_dir)
    return load_body(folder, backend, onnx_dir)

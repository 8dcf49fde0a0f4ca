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
from core.model.onnx.quantize import (
    INT8_RECIPES,
    STATIC_RECIPES,
    quantize_int8,
    quantize_static_int8,
)
from core.model.onnx.runtime import (
    BODY_BACKENDS,
    FILES,
    ONNX_DIR,
    check_backend,
    load_onnx,
    require_backend,
)
from core.records import Record

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from core.model.heads import Head

CHECKS_FILE = "checks.json"  # beside the ONNX files: each body's check figures

# The check: every validation text's exported embedding against the PyTorch one (cosine), and the
# share of texts whose predicted label stays the same. fp32 differs from PyTorch only in the order
# of float additions (measured cosine > 0.9999); bf16 a little more (measured >= 0.9999 with
# PyTorch's autocast); int8 loses more (measured 0.96-0.99 per text).
MIN_COSINE = {
    "torch-bf16": 0.99,
    "onnx": 0.99,
    "onnx-int8": 0.95,
    "onnx-int8-static": 0.95,
    "openvino": 0.99,
    "openvino-int8": 0.95,
}
MIN_AGREEMENT = dict.fromkeys(MIN_COSINE, 0.98)
# How each backend's body is made now, tried in order until one passes the check; a kept body
# made another way is exported again. fp32: the graph ONNX Runtime's transformer optimizer fuses
# (`export_fused`), else PyTorch's dynamo export as it is. int8 (quantised from the fp32 body
# kept) keeps the feed-forward down-projections in fp32, or, when that still answers too
# differently (MPNet: min cosine 0.947), both feed-forward products.
# The calibrated int8 bodies likewise; OpenVINO's fp32 body is the ONNX one run at this CPU's
# precision (bf16 or f32: a body checked at another precision is checked again), torch-bf16 the
# PyTorch weights under autocast.
RECIPES = {
    "torch-bf16": ("autocast-bf16",),
    "onnx": FP32_RECIPES,
    "onnx-int8": INT8_RECIPES,
    "onnx-int8-static": STATIC_RECIPES,
    "openvino": ("openvino-bf16", "openvino-f32"),
    "openvino-int8": ("nncf-int8-bf16", "nncf-int8-f32"),
}
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
    # Validation macro-F1 of the head on this body's embeddings and on PyTorch's (None: no
    # labels were given to the check).
    macro_f1: float | None = None
    macro_f1_torch: float | None = None

    def describe(self) -> str:
        agreement = (
            f", predictions agree on {self.agreement:.1%} (at least {self.agreement_required:.0%})"
            if self.agreement is not None
            else ""
        )
        f1 = (
            f", validation macro-F1 {self.macro_f1:.4f} (PyTorch {self.macro_f1_torch:.4f})"
            if self.macro_f1 is not None and self.macro_f1_torch is not None
            else ""
        )
        return (
            f"{self.backend} on {self.texts} texts: cosine with PyTorch min {self.min_cosine:.4f} "
            f"(at least {self.min_cosine_required}), mean {self.mean_cosine:.4f}{agreement}{f1}"
        )


def compare(
    backend: str,
    reference: np.ndarray,
    candidate: np.ndarray,
    head: Head | None = None,
    truth: np.ndarray | None = None,
) -> BodyCheck:
    """The check figures of `candidate` embeddings against the PyTorch `reference` ones (and,
    given the texts' class ids `truth`, the head's macro-F1 on each)."""
    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(candidate, dtype=np.float64)
    if ref.shape != got.shape or not len(ref):
        raise ModelError(f"cannot compare embeddings of shapes {ref.shape} and {got.shape}")
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cosine = (ref * got).sum(axis=1) / np.maximum(norms, 1e-12)
    cosine = np.nan_to_num(cosine, nan=-1.0)
    agreement = f1 = f1_torch = None
    if head is not None:
        predicted, predicted_torch = head.predict(got), head.predict(ref)
        agreement = float(np.mean(predicted == predicted_torch))
        if truth is not None and predicted.ndim == 1 and len(truth) == len(ref):
            from sklearn.metrics import f1_score

            f1 = round(float(f1_score(truth, predicted, average="macro")), 6)
            f1_torch = round(float(f1_score(truth, predicted_torch, average="macro")), 6)
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
        macro_f1=f1,
        macro_f1_torch=f1_torch,
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


def recipes(backend: str) -> tuple[str, ...]:
    """The ways `backend`'s body is made here, in the order they are tried (an OpenVINO body
    runs at this CPU's precision, so only that one)."""
    if backend in ("openvino", "openvino-int8"):
        from core.model.onnx.openvino import precision

        return tuple(r for r in RECIPES[backend] if r.endswith(precision()))
    return RECIPES[backend]


def ensure_body(
    folder: Path,
    backend: str,
    texts: Sequence[str],
    head: Head | None = None,
    onnx_dir: Path | None = None,
    reference: SentenceTransformer | None = None,
    calibration: Sequence[str] | None = None,
    truth: Sequence[int] | None = None,
) -> BodyCheck:
    """The exported body of `backend` for the model `folder`, in `onnx_dir` (default
    folder/onnx): kept when it passed its check before, else exported, checked against the
    PyTorch body on `texts` (and `head`'s predictions; with the texts' class ids `truth`, its
    macro-F1), and written only when it passes. The calibrated int8 bodies take their activation
    ranges from `calibration` (the run's training texts; default `texts`). Raises ExportRefused
    (writing nothing) when it answers differently."""
    from filelock import FileLock

    from core.model.heads import encode

    check_backend(backend, measured=True)
    if backend not in BODY_BACKENDS:
        raise ModelError(f"the {backend} backend has no body exported beside PyTorch's")
    require_backend(backend)
    onnx_dir = onnx_dir or folder / ONNX_DIR
    pairs = [(t, None if truth is None else int(truth[i])) for i, t in enumerate(texts) if t]
    pairs = pairs[:CHECK_TEXTS]
    texts = [t for t, _ in pairs]
    labels = None if truth is None else np.array([y for _, y in pairs])
    if not texts:
        raise ModelError("no texts to check the exported body on")
    calibration = [t for t in (calibration or texts) if t]
    onnx_dir.mkdir(parents=True, exist_ok=True)
    if backend not in ("onnx", "torch-bf16"):  # made from (or run on) the checked fp32 body
        ensure_body(folder, "onnx", texts, head, onnx_dir, reference, calibration, truth=None)
    with FileLock(str(onnx_dir / ".export.lock")):
        known = read_checks(onnx_dir).get(backend)
        if known is not None and known.passed and _current(known) and _present(onnx_dir, known):
            return known
        if reference is None:
            from core.model.catalogue import load_model

            reference = load_model(str(folder), device="cpu")
        made = Made(folder, reference, encode(reference, texts), texts, head, onnx_dir)
        ways = recipes(backend)
        for recipe in ways:
            try:
                check = _export_checked(made, backend, recipe, calibration, labels)
            except ModelError:
                if recipe == ways[-1]:
                    raise
                continue  # this exporter cannot make this model: the next way may
            if check.passed:
                break
        else:
            tried = f" (tried {len(ways)} ways: {', '.join(ways)})" if len(ways) > 1 else ""
            raise ExportRefused(
                f"the {backend} export answers differently from the PyTorch model, so it was "
                f"not kept: {check.describe()}{tried}"
            )
        write_checks(onnx_dir, {**read_checks(onnx_dir), backend: check})
        return check


@dataclass
class Made:
    """What every way of making a body is checked against: the PyTorch model and its vectors."""

    folder: Path
    reference: SentenceTransformer
    vectors: np.ndarray
    texts: list[str]
    head: Head | None
    onnx_dir: Path


def _export_checked(
    made: Made,
    backend: str,
    recipe: str,
    calibration: Sequence[str],
    truth: np.ndarray | None,
) -> BodyCheck:
    """Make the body one way, check it against the PyTorch vectors, and put it in place only
    when it passes (the figures are returned either way; a failed file is removed)."""
    from core.model.heads import encode

    onnx_dir, folder = made.onnx_dir, made.folder
    target = onnx_dir / FILES[backend] if FILES[backend] else None
    suffix = target.suffix if target is not None else ".onnx"
    fd, name = tempfile.mkstemp(prefix=".exporting-", suffix=suffix, dir=onnx_dir)
    os.close(fd)
    staged = Path(name)
    companions = [staged.with_suffix(".bin")] if suffix == ".xml" else []
    try:
        try:
            body = _make(made, backend, recipe, staged, calibration)
            exported = _load(folder, backend, staged if staged.stat().st_size else None)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - the exporters raise many types
            lines = str(exc).strip().splitlines()
            raise ModelError(
                f"the {backend} export of {folder} failed: "
                f"{lines[0] if lines else type(exc).__name__}"
            ) from exc
        check = compare(backend, made.vectors, encode(exported, made.texts), made.head, truth)
        size = sum(p.stat().st_size for p in [staged, *companions] if p.is_file())
        check = BodyCheck.from_dict(
            {
                **check.to_dict(),
                "file": f"{ONNX_DIR}/{target.name}" if target is not None else "",
                "bytes": size or (body.stat().st_size if body is not None else 0),
                "recipe": recipe,
            }
        )
        if check.passed and target is not None and staged.stat().st_size:
            for made_file, final in zip(
                [staged, *companions], [target, *[target.with_suffix(".bin")][: len(companions)]]
            ):
                made_file.chmod(0o644)  # mkstemp's 0600 would hide the model from other users
                os.replace(made_file, final)
        return check
    finally:
        for leftover in [staged, *companions]:
            leftover.unlink(missing_ok=True)


def _make(
    made: Made, backend: str, recipe: str, staged: Path, calibration: Sequence[str]
) -> Path | None:
    """Write `backend`'s body the `recipe` way to `staged` (left empty when the backend runs an
    existing file: that file is returned)."""
    fp32 = made.onnx_dir / FILES["onnx"]
    if backend == "onnx":
        quiet(export_fp32, made.reference, staged, recipe)
    elif backend == "onnx-int8":
        quiet(quantize_int8, fp32, staged, recipe)
    elif backend == "onnx-int8-static":
        tokenizer = made.reference.tokenizer
        quiet(quantize_static_int8, fp32, staged, tokenizer, list(calibration), recipe)
    elif backend == "openvino-int8":
        from core.model.onnx.openvino import quantize_nncf

        quiet(quantize_nncf, fp32, staged, made.reference, list(calibration))
    elif backend == "openvino":
        return fp32
    return None


def _load(
    folder: Path, backend: str, file: Path | None, onnx_dir: Path | None = None, threads: int = 0
) -> SentenceTransformer:
    """`folder`'s model on `backend`, its body read from `file` (default: the kept one)."""
    if backend == "torch-bf16":
        from core.model.onnx.bf16 import load_bf16

        return load_bf16(folder)
    file = file or (onnx_dir or folder / ONNX_DIR) / FILES[backend]
    if backend.startswith("openvino"):
        from core.model.onnx.openvino import load_openvino

        return load_openvino(folder, file, threads or None)
    return load_onnx(folder, file, threads or None)


def _current(check: BodyCheck) -> bool:
    """Whether a kept body was made the way its backend's bodies are made now (an fp32 body
    kept before recipes were recorded is; an int8 one quantised its down-projections too)."""
    if check.backend == "onnx" and check.recipe == "":
        return True
    return check.recipe in recipes(check.backend)


def _present(onnx_dir: Path, check: BodyCheck) -> bool:
    """Whether the files of a kept body are there."""
    file = FILES[check.backend]
    if not file:
        return True
    return (onnx_dir / file).is_file() and (
        not file.endswith(".xml") or (onnx_dir / file).with_suffix(".bin").is_file()
    )


def load_body(
    folder: Path, backend: str, onnx_dir: Path | None = None, threads: int | None = None
) -> SentenceTransformer:
    """The SentenceTransformer of `folder` on `backend` (its exported body must exist and have
    passed its check: `ensure_body` makes it)."""
    check_backend(backend, measured=True)
    if backend == "torch":
        from core.model.catalogue import load_model

        return load_model(str(folder))
    if backend not in BODY_BACKENDS:
        raise ModelError(f"the {backend} backend has no body exported beside PyTorch's")
    require_backend(backend)
    onnx_dir = onnx_dir or folder / ONNX_DIR
    check = read_checks(onnx_dir).get(backend)
    if check is None or not check.passed or not _current(check) or not _present(onnx_dir, check):
        raise ModelError(f"{folder} has no checked {backend} body: export it first")
    return _load(folder, backend, None, onnx_dir, threads or 0)

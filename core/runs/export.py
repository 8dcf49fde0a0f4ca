"""Exports: a completed run's body, head, labels and record copied to a folder of the user's with
a model card (README.md), loadable without Embedtune. The body is the PyTorch one
(`SentenceTransformer(DEST / "model")`) or, with `format="onnx"`, an ONNX body (fp32, or int8
with `quantize="int8"`) that was checked against the PyTorch one on the run's validation texts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from core.errors import StorageError
from core.model.classifier import HEAD_FILE, LABELS_FILE, MODEL_DIR
from core.model.onnx import FILES, ONNX_DIR, BodyCheck, write_checks
from core.runs.bodies import ensure_run_body
from core.runs.card import model_card
from core.runs.resolve import resolve
from core.runs.store import RUN_FILE, RunStore

FORMATS = ("torch", "onnx")
QUANTIZE = ("int8",)
CARD_FILE = "README.md"
# The PyTorch weights an ONNX export leaves out (the ONNX file holds the same weights).
TORCH_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


class ExportError(StorageError):
    """An export cannot be made as asked (options, destination)."""


def export_backend(format: str, quantize: str | None) -> str:
    """The backend an export's body runs on: torch, onnx or onnx-int8."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}: choose {' or '.join(FORMATS)}")
    if quantize is not None and quantize not in QUANTIZE:
        raise ExportError(f"unknown quantisation {quantize!r}: choose {' or '.join(QUANTIZE)}")
    if quantize and format != "onnx":
        raise ExportError("--quantize int8 quantises an ONNX body: add --format onnx")
    return "torch" if format == "torch" else ("onnx-int8" if quantize else "onnx")


def export_run(
    name: str,
    dest: str | Path,
    store: RunStore | None = None,
    format: str = "torch",
    quantize: str | None = None,
) -> tuple[Path, BodyCheck | None]:
    """Copy the completed run `name` into `dest` (a new or empty folder) with its model card;
    returns `dest` and the check figures of its ONNX body (None for PyTorch). An ONNX body that
    answers differently from the PyTorch one is refused (ExportRefused) and nothing is written."""
    backend = export_backend(format, quantize)
    store = store or RunStore()
    ref = resolve(name, store, classify=True)
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ExportError(f"{dest} exists and is not empty: choose a new folder")
    source = Path(ref.location)
    check = ensure_run_body(source, backend)  # the run keeps the body beside its PyTorch one
    record = store.get(ref.name)
    checks = {backend: check} if check is not None else {}
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Built beside `dest` and renamed into place: an interrupted export leaves no half folder.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.exporting-", dir=dest.parent))
    try:
        model = staging / MODEL_DIR
        shutil.copytree(source / MODEL_DIR, model, ignore=shutil.ignore_patterns(ONNX_DIR))
        if check is not None:
            for weights in TORCH_WEIGHTS:
                (model / weights).unlink(missing_ok=True)
            (model / ONNX_DIR).mkdir()
            shutil.copy2(source / MODEL_DIR / ONNX_DIR / FILES[backend], model / check.file)
            write_checks(model / ONNX_DIR, checks)
        for name_ in (HEAD_FILE, LABELS_FILE, RUN_FILE):
            shutil.copy2(source / name_, staging / name_)
        (staging / CARD_FILE).write_text(model_card(record, checks), encoding="utf-8")
        staging.chmod(0o755)
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        staging.rename(dest)
    except OSError as exc:
        raise StorageError(f"cannot write the export into {dest}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest, check

"""Exports: a completed run's body, head, labels and record copied to a folder of the user's with
a model card (README.md), loadable without Embedtune. The body is the PyTorch one
(`SentenceTransformer(DEST / "model")`), or another backend's, checked against the PyTorch one
on the run's validation texts: ONNX (`format="onnx"`: fp32, or int8 with `quantize="int8"`),
OpenVINO (`format="openvino"`: the fp32 ONNX body run
at the CPU's precision, or NNCF's int8 with `quantize="int8"`), PyTorch under bf16 autocast
(`format="torch-bf16"`), or the static model distilled from the body with its refitted head
(`format="static"`: faster, less accurate; its card says by how much)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from core.errors import StorageError
from core.model.classifier import HEAD_FILE, LABELS_FILE, MODEL_DIR
from core.model.onnx import FILES, ONNX_DIR, BodyCheck, write_checks
from core.model.static import STATIC_DIR, StaticCheck
from core.runs.bodies import ensure_run_body
from core.runs.card import model_card
from core.runs.resolve import resolve
from core.runs.store import RUN_FILE, RunStore

FORMATS = ("torch", "torch-bf16", "onnx", "openvino", "static")
QUANTIZE = ("int8",)
# The backend of each (format, quantize) pair an export takes.
EXPORTS = {
    ("torch", None): "torch",
    ("torch-bf16", None): "torch-bf16",
    ("onnx", None): "onnx",
    ("onnx", "int8"): "onnx-int8",
    ("openvino", None): "openvino",
    ("openvino", "int8"): "openvino-int8",
    ("static", None): "static",
}
CARD_FILE = "README.md"
# The PyTorch weights an ONNX export leaves out (the ONNX file holds the same weights).
TORCH_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


class ExportError(StorageError):
    """An export cannot be made as asked (options, destination)."""


def export_backend(format: str, quantize: str | None) -> str:
    """The backend an export's body runs on (core.model.onnx.BACKENDS). A backend's name is
    taken as a format too (`onnx-int8` = `onnx` quantised `int8`)."""
    if quantize is None and format in EXPORTS.values():
        return format
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}: choose {', '.join(FORMATS)}")
    if quantize is not None and quantize not in QUANTIZE:
        raise ExportError(f"unknown quantisation {quantize!r}: choose {' or '.join(QUANTIZE)}")
    backend = EXPORTS.get((format, quantize))
    if backend is None:
        takes = [q for f, q in EXPORTS if f == format and q]
        raise ExportError(
            f"--quantize {quantize} does not apply to --format {format}: "
            + (
                f"it takes {' or '.join(takes)}"
                if takes
                else "only --format onnx and openvino are quantised (int8)"
            )
        )
    return backend


def export_run(
    name: str,
    dest: str | Path,
    store: RunStore | None = None,
    format: str = "torch",
    quantize: str | None = None,
    max_f1_drop: float | None = None,
) -> tuple[Path, BodyCheck | StaticCheck | None]:
    """Copy the completed run `name` into `dest` (a new or empty folder) with its model card;
    returns `dest` and the check figures of its body (None for PyTorch). A body that answers
    differently from the PyTorch one is refused (ExportRefused) and nothing is written; a static
    model whose validation macro-F1 is more than `max_f1_drop` (default 0.15) below the run's too
    (once kept, `--backend static` uses it)."""
    backend = export_backend(format, quantize)
    if max_f1_drop is not None and (backend != "static" or not 0.0 <= max_f1_drop <= 1.0):
        raise ExportError("--max-f1-drop takes a number from 0 to 1, with --format static")
    store = store or RunStore()
    ref = resolve(name, store, classify=True)
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ExportError(f"{dest} exists and is not empty: choose a new folder")
    source = Path(ref.location)
    check = ensure_run_body(source, backend, max_f1_drop)  # kept beside the PyTorch body
    record = store.get(ref.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Built beside `dest` and renamed into place: an interrupted export leaves no half folder.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.exporting-", dir=dest.parent))
    try:
        if isinstance(check, StaticCheck):
            shutil.copytree(source / MODEL_DIR / STATIC_DIR, staging / STATIC_DIR)
            card = model_card(record, static=check)
        else:
            _copy_body(source, staging, backend, check)
            for name_ in (HEAD_FILE, LABELS_FILE):
                shutil.copy2(source / name_, staging / name_)
            card = model_card(record, {backend: check} if check is not None else {})
        shutil.copy2(source / RUN_FILE, staging / RUN_FILE)
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        staging.chmod(0o755)
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        staging.rename(dest)
    except OSError as exc:
        raise StorageError(f"cannot write the export into {dest}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest, check


def _copy_body(source: Path, staging: Path, backend: str, check: BodyCheck | None) -> None:
    """The model folder, with the PyTorch weights replaced by the checked body's file(s) (a
    torch-bf16 body is the PyTorch weights themselves)."""
    model = staging / MODEL_DIR
    ignore = shutil.ignore_patterns(ONNX_DIR, STATIC_DIR, ".*")
    shutil.copytree(source / MODEL_DIR, model, ignore=ignore)
    if check is None:
        return
    (model / ONNX_DIR).mkdir()
    if FILES[backend]:
        for weights in TORCH_WEIGHTS:
            (model / weights).unlink(missing_ok=True)
        file = source / MODEL_DIR / ONNX_DIR / FILES[backend]
        shutil.copy2(file, model / ONNX_DIR / file.name)
        if file.suffix == ".xml":  # an OpenVINO IR pair
            shutil.copy2(file.with_suffix(".bin"), model / ONNX_DIR / file.with_suffix(".bin").name)
    write_checks(model / ONNX_DIR, {backend: check})

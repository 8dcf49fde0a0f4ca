"""A run's exported bodies: made on first use beside the PyTorch one (`model/onnx/`), checked on
the run's validation texts and its head's predictions, and refused when they answer differently."""

from __future__ import annotations

from pathlib import Path

from core.model.classifier import MODEL_DIR, load_head
from core.model.onnx import ONNX_DIR, BodyCheck, check_backend, ensure_body, read_checks
from core.runs.store import RunStore


def validation_texts(run_dir: Path) -> list[str]:
    """The run's validation texts, cleaned as the run cleans what it classifies."""
    run_dir = Path(run_dir)
    _, _, cleaning = load_head(run_dir)
    valid = RunStore(run_dir.parent).load_dataset(run_dir.name).valid
    return [cleaning.apply(text) for text in valid.texts]


def ensure_run_body(run_dir: Path, backend: str) -> BodyCheck | None:
    """The run's `backend` body, exported and checked when it is not there yet (None for torch:
    the PyTorch body is the run's model folder)."""
    if check_backend(backend) == "torch":
        return None
    run_dir = Path(run_dir)
    head, _, _ = load_head(run_dir)
    return ensure_body(run_dir / MODEL_DIR, backend, validation_texts(run_dir), head)


def run_checks(run_dir: Path) -> dict[str, BodyCheck]:
    """The check figures of the bodies the run keeps (empty when it keeps none)."""
    return read_checks(Path(run_dir) / MODEL_DIR / ONNX_DIR)

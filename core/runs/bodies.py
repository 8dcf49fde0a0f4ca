"""A run's bodies on the other backends: made on first use beside the PyTorch one (`model/onnx/`,
`model/static/`), checked on the run's validation texts and its head's predictions (calibrated
ones take their activation ranges from its training texts), and refused when they answer
differently."""

from __future__ import annotations

from pathlib import Path

from core.model.classifier import MODEL_DIR, load_head
from core.model.onnx import ONNX_DIR, BodyCheck, check_backend, ensure_body, read_checks
from core.model.static import StaticCheck
from core.runs.store import RunStore

CALIBRATION_TEXTS = 300  # the run's training texts the calibrated int8 bodies see, at most


def ensure_run_body(
    run_dir: Path, backend: str, max_f1_drop: float | None = None
) -> BodyCheck | StaticCheck | None:
    """The run's `backend` body, made and checked when it is not there yet (None for torch:
    the PyTorch body is the run's model folder). `max_f1_drop`: the static model's allowance
    (core.runs.static.make_static; default MAX_F1_DROP)."""
    if check_backend(backend) == "torch":
        return None
    run_dir = Path(run_dir)
    store = RunStore(run_dir.parent)
    dataset = store.load_dataset(run_dir.name)
    if backend == "static":
        from core.runs.static import make_static

        config = store.get(run_dir.name).config
        return make_static(run_dir, dataset, config=config, max_drop=max_f1_drop)
    head, labels, cleaning = load_head(run_dir)
    valid = dataset.valid
    index = {label: i for i, label in enumerate(labels)}
    single = all(len(row) == 1 and row[0] in index for row in valid.row_labels)
    truth = [index[label] for label in valid.labels] if single else None
    step = max(1, len(dataset.train.texts) // CALIBRATION_TEXTS)  # spread over the file
    sample = dataset.train.texts[::step][:CALIBRATION_TEXTS]
    calibration = [cleaning.apply(text) for text in sample]
    return ensure_body(
        run_dir / MODEL_DIR,
        backend,
        [cleaning.apply(text) for text in valid.texts],
        head,
        calibration=calibration,
        truth=truth,
    )


def run_checks(run_dir: Path) -> dict[str, BodyCheck]:
    """The check figures of the bodies the run keeps (empty when it keeps none)."""
    return read_checks(Path(run_dir) / MODEL_DIR / ONNX_DIR)

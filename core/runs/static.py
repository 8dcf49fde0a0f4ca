"""A run's static backend: a model2vec model distilled from the run's body (core.model.static),
the run's head refitted on its embeddings of the run's training rows (the task's own way), and
the check: its validation macro-F1 against the run's and how often their predictions agree. Made
on request (`core export --format static`, or the first use of `--backend static`), kept in
model/static/ beside the PyTorch body, refused (nothing kept) when it loses too much."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.model.classifier import MODEL_DIR, Classifier, load_classifier_dir, save_head
from core.model.onnx import ExportRefused
from core.model.static import (
    MAX_F1_DROP,
    STATIC_DIR,
    WEIGHTS_FILE,
    StaticCheck,
    distill_body,
    load_static,
    read_check,
    write_check,
)

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data.labeled import DataSet, LabeledTexts


class StaticRefused(ExportRefused):
    """The static model loses too much against the run: nothing was kept."""


def static_dir(directory: Path) -> Path:
    return Path(directory) / MODEL_DIR / STATIC_DIR


def make_static(
    directory: Path,
    dataset: DataSet,
    run: Classifier | None = None,
    config: TrainConfig | None = None,
    max_drop: float | None = None,
) -> StaticCheck:
    """The static model of the classifier folder `directory` (a run's), made once: distilled
    from its body, its head refitted on `dataset`'s training rows, checked on its validation
    rows against the run (`run`: the loaded classifier, else loaded here). Raises StaticRefused
    when its validation macro-F1 is more than `max_drop` (default MAX_F1_DROP) below the run's
    (a benchmark passes 1.0 to measure every model)."""
    from filelock import FileLock

    from core.config import TrainConfig
    from core.model.heads import encode
    from core.train.task import task_for

    directory = Path(directory)
    dest = static_dir(directory)
    limit = MAX_F1_DROP if max_drop is None else max_drop
    with FileLock(str(directory / MODEL_DIR / ".static.lock")):
        known = read_check(dest)
        if known is not None and known.passed and (dest / WEIGHTS_FILE).is_file():
            return known
        run = run or load_classifier_dir(directory, device="cpu")
        started = time.perf_counter()
        staging = Path(tempfile.mkdtemp(prefix=".static-", dir=directory / MODEL_DIR))
        try:
            distill_body(directory / MODEL_DIR, staging)
            model = load_static(staging)
            task = task_for(list(run.classes_), run.multi_label, config or TrainConfig())
            train, valid = dataset.train, _known(dataset.valid, set(run.classes_))
            clean = run.cleaning.apply
            x_train = encode(model, [clean(t) for t in train.texts])
            x_valid = encode(model, [clean(t) for t in valid.texts])
            y_train, y_valid = task.targets(train), task.targets(valid)
            head = task.fit_head(x_train, y_train, x_valid, y_valid)
            x_run = encode(run.model, [clean(t) for t in valid.texts])
            ours = task.evaluate(head, x_valid, y_valid).metrics.macro_f1
            theirs = task.evaluate(run.head, x_run, y_valid).metrics.macro_f1
            same = head.predict(x_valid) == run.head.predict(x_run)
            agreement = float(np.mean(same.all(axis=1) if same.ndim > 1 else same))
            weights = (staging / WEIGHTS_FILE).stat().st_size
            check = StaticCheck(
                texts=len(valid.texts),
                agreement=round(agreement, 6),
                macro_f1=round(float(ours), 6),
                macro_f1_torch=round(float(theirs), 6),
                max_drop=limit,
                passed=bool(theirs - ours <= limit),
                dims=int(x_train.shape[1]),
                vocabulary=int(embedding_of(model).tokenizer.get_vocab_size()),
                bytes=weights,
                seconds=round(time.perf_counter() - started, 1),
            )
            if not check.passed:
                drop = math.ceil((theirs - ours) * 100) / 100
                raise StaticRefused(
                    f"the static model loses too much against the run, so it was not kept: "
                    f"{check.describe()}; to accept that price, make it with `python -m core "
                    f"export {directory.name} DEST --format static --max-f1-drop {drop:.2f}`"
                )
            save_head(head, list(run.classes_), run.cleaning, staging)
            write_check(staging, check)
            staging.chmod(0o755)
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(staging, dest)
            return check
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _known(data: LabeledTexts, classes: set[str]) -> LabeledTexts:
    """The rows of `data` whose labels the head knows (a label seen only in validation is not)."""
    keep = [
        i for i, labels in enumerate(data.row_labels) if all(label in classes for label in labels)
    ]
    return data if len(keep) == len(data) else data.subset(keep)


def embedding_of(model: Any) -> Any:
    """The StaticEmbedding module of a static SentenceTransformer."""
    return model[0]


def load_static_classifier(directory: Path) -> Classifier:
    """The static classifier kept for the classifier folder `directory`."""
    return load_classifier_dir(Path(directory), backend="static")

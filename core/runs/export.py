"""Exports: a completed run's model, head, labels and record copied to a folder of the user's,
loadable without Embedtune (`SentenceTransformer(DEST / "model")`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.errors import StorageError
from core.model.classifier import HEAD_FILE, LABELS_FILE, MODEL_DIR
from core.runs.resolve import resolve
from core.runs.store import RUN_FILE, RunStore


def export_run(name: str, dest: str | Path, store: RunStore | None = None) -> Path:
    """Copy the completed run `name` into `dest` (a new or empty folder); returns `dest`."""
    ref = resolve(name, store, classify=True)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise StorageError(f"{dest} exists and is not empty: choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    source = Path(ref.location)
    shutil.copytree(source / MODEL_DIR, dest / MODEL_DIR)
    for name_ in (HEAD_FILE, LABELS_FILE, RUN_FILE):
        shutil.copy2(source / name_, dest / name_)
    return dest

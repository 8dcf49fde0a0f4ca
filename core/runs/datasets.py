"""Reviewed data sets kept in the workspace by fingerprint, so a refresh, a new tab of the same
link or a restart of the app finds the data again (the run store's `.datasets/` folder)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from core.data.cleaning import CleaningConfig
from core.data.labeled import TrainingData
from core.errors import DataError, StorageError
from core.io import atomic_write_text
from core.records import Record
from core.runs.store import RunStore, now_iso

DATA_DIR = ".datasets"  # a dot folder: never listed as a run
KEY_PATTERN = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class SavedData(Record):
    """What "Use this data" registered: the rows (after drops and label-check edits), the
    cleaning chosen with them, and the label-check choices that were applied."""

    data: TrainingData
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    label_choices: dict[int, str] = field(default_factory=dict)
    saved_at: str = ""

    @property
    def key(self) -> str:
        """16 hex digits of the fingerprint of the rows, the cleaning and the choices."""
        payload = {
            "data": self.data.fingerprint(),
            "cleaning": self.cleaning.to_dict(),
            "choices": sorted(self.label_choices.items()),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self.data.train.name or "uploaded file"


def validate_key(key: str) -> str:
    """Refuse anything but a saved data set's key (it becomes a file name)."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise DataError(f"invalid data set key {key!r}: expected 16 hexadecimal digits")
    return key


def save_data(store: RunStore, saved: SavedData) -> str:
    """Write the data set into the workspace (atomically; the same data is one file) and return
    its key."""
    store.ensure_writable()
    key = saved.key
    path = store.root / DATA_DIR / f"{key}.json"
    if not path.exists():
        stamped = SavedData(saved.data, saved.cleaning, saved.label_choices, now_iso())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(stamped.to_dict()))
        except OSError as exc:
            raise StorageError(
                f"cannot save the data set in {store.root}: {exc.strerror or exc}"
            ) from exc
    return key


def load_data(store: RunStore, key: str) -> SavedData:
    """The data set saved under `key`; a DataError when it is gone or cannot be read."""
    path = store.root / DATA_DIR / f"{validate_key(key)}.json"
    try:
        return SavedData.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise DataError(
            f"the data set {key} is no longer in {store.root}: load the file again on the Data page"
        ) from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"the saved data set {key} cannot be read ({exc})") from exc

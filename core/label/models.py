"""The model a labelling session embeds its pool with: a base model, or a completed run ("label
more where this model is unsure"): the run's body embeds, its labels are the session's, and the
rows it was trained on teach the session's head from the first batch, so the run's own body and
what its head learnt choose the texts to ask. (The run store is a layer above: the doors read the
run and pass its parts here.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.data.labeled import LabeledTexts
from core.errors import DataError
from core.label.loop import Extra


@dataclass(frozen=True)
class PoolModel:
    """What a session needs to know of its model: the name the user chose, the key of its
    weights (the embeddings cache's key), the run's labels (empty for a base model) and the
    run's training rows (none for a base model)."""

    name: str
    key: str
    labels: tuple[str, ...] = ()
    rows: Extra = field(default_factory=Extra)


def base_model(name: str) -> PoolModel:
    """A base model: its key names its weights."""
    return PoolModel(name, name)


def run_model(
    run_id: str,
    finished_at: str | None,
    classes: Sequence[str],
    multi_label: bool,
    train: LabeledTexts | None,
) -> PoolModel:
    """A completed run (its labels, its kind, and the rows it trained on: None when they cannot
    be read, its label names still teach). A multi-label run is a DataError: a session asks one
    label per text."""
    if multi_label or (train is not None and train.label_sets is not None):
        raise DataError(
            f"run {run_id} is multi-label: a labelling session asks one label per text; "
            "choose a single-label run or a base model"
        )
    labels = tuple(str(label) for label in classes)
    if train is None:
        return PoolModel(run_id, f"{run_id}@{finished_at}", labels)
    rows = Extra(tuple(train.texts), tuple(train.labels))
    return PoolModel(run_id, f"{run_id}@{finished_at}", labels or tuple(train.classes), rows)

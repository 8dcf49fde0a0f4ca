"""What a model name means: a base model ('small', 'large') or a completed run. The one place
that says "only a completed run can be used"; the CLI, the HTTP service, batch jobs and the
pages all resolve names here and then load what they got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import RunError
from core.model.catalogue import CATALOGUE, is_installed
from core.runs.store import RUN_ID_PATTERN, RunStore

if TYPE_CHECKING:
    from core.model.classifier import Classifier, Embedder


class UnknownModel(RunError):
    """The name is a valid one but names nothing usable here: no such run, a run that is not
    completed or is broken, a base model that is not installed."""


@dataclass(frozen=True)
class ModelRef:
    """A resolved model, as any process can load it by itself (plain strings only)."""

    source: str  # "base" or "run"
    location: str  # the base model key, or the run's directory
    name: str  # the base model key or the run id, for messages
    finished_at: str | None = None  # a run's finish time: tells a retrained run from the old

    @property
    def classifies(self) -> bool:
        return self.source == "run"


def resolve(name: str, store: RunStore | None = None, *, classify: bool = False) -> ModelRef:
    """The base model or completed run called `name`. Base model names come first; a base
    model embeds but cannot classify, so `classify=True` asks for a completed run."""
    store = store or RunStore()
    if name in CATALOGUE:
        if classify:
            raise RunError(
                f"{name!r} is a base model: it embeds but cannot classify; pass the id of a "
                "completed run"
            )
        if not is_installed(name):
            raise UnknownModel(
                f"base model {name!r} is not installed: {CATALOGUE[name].install_command}"
            )
        return ModelRef("base", name, name)
    if not isinstance(name, str) or not RUN_ID_PATTERN.fullmatch(name):
        raise RunError(
            f"invalid model {name!r}: expected a run id (lower-case letters, digits, '-', '_') "
            f"or a base model ({', '.join(CATALOGUE)})"
        )
    if not store.path(name).is_dir():
        raise UnknownModel(f"unknown model {name!r}: no such run in {store.root}")
    try:
        record = store.get(name)
    except RunError as exc:
        raise UnknownModel(str(exc)) from exc
    if record.status != "completed":
        raise UnknownModel(f"run {record.id} is {record.status}: only a completed run can be used")
    return ModelRef("run", str(store.path(record.id).resolve()), record.id, record.finished_at)


def load(ref: ModelRef, device: str | None = None, backend: str = "torch") -> Embedder:
    """The loaded model: a Classifier for a run, an Embedder for a base model. A backend other
    than torch runs the body exported beside the PyTorch one, made (and checked) on first use."""
    from pathlib import Path

    from core.model.classifier import load_classifier_dir, load_embedder

    if ref.source == "run":
        from core.runs.bodies import ensure_run_body

        ensure_run_body(Path(ref.location), backend)
        return load_classifier_dir(
            Path(ref.location), device=device, name=ref.name, backend=backend
        )
    return load_embedder(ref.location, device=device, backend=backend)


def load_run(
    run_id: str, store: RunStore | None = None, device: str | None = None, backend: str = "torch"
) -> Classifier:
    """The classifier of a completed run."""
    from core.model.classifier import Classifier

    classifier = load(resolve(run_id, store, classify=True), device, backend)
    assert isinstance(classifier, Classifier)
    return classifier

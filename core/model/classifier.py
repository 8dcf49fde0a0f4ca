"""A trained classifier: save it in safe formats, load it back, embed and classify texts."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np

from core.data.cleaning import CleaningConfig
from core.errors import RunError
from core.model.catalogue import choose_device, load_model
from core.model.heads import Head, LinearHead, SigmoidHead

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


# A saved classifier folder (a completed run, an export): the body, the head, its labels.
MODEL_DIR = "model"  # loadable by SentenceTransformer(path) alone
HEAD_FILE = "head.safetensors"
LABELS_FILE = "labels.json"


class Classification(TypedDict):
    """One text's result, in the hosted Classify shape: what the HTTP service, batch jobs and
    the Playground all render from."""

    input: str
    prediction: str
    confidence: float
    labels: dict[str, float]  # every label's probability, in the head's label order
    # Multi-label results only: every label above its threshold, by confidence, and each one's
    # confidence (`prediction` is the first of them, "" when none is above its threshold).
    predictions: NotRequired[list[str]]
    confidences: NotRequired[list[float]]


def classifications(
    inputs: Sequence[str], probabilities: np.ndarray, labels: Iterable[Any]
) -> list[Classification]:
    """Results for `inputs` from the head's probabilities (one row per text)."""
    names = [str(label) for label in labels]
    results: list[Classification] = []
    for text, row in zip(inputs, probabilities, strict=True):
        best = int(row.argmax())
        results.append(
            Classification(
                input=text,
                prediction=names[best],
                confidence=float(row[best]),
                labels={name: float(p) for name, p in zip(names, row, strict=True)},
            )
        )
    return results


def multilabel_classifications(
    inputs: Sequence[str], probabilities: np.ndarray, labels: Iterable[Any], thresholds: np.ndarray
) -> list[Classification]:
    """Multi-label results: each label's own sigmoid confidence (they do not sum to 1) and every
    label at or above its threshold, most confident first."""
    names = [str(label) for label in labels]
    results: list[Classification] = []
    for text, row in zip(inputs, probabilities, strict=True):
        chosen = [int(i) for i in np.argsort(-row, kind="stable") if row[i] >= thresholds[i]]
        best = chosen[0] if chosen else int(row.argmax())
        results.append(
            Classification(
                input=text,
                prediction=names[best] if chosen else "",
                confidence=float(row[best]),
                labels={name: float(p) for name, p in zip(names, row, strict=True)},
                predictions=[names[i] for i in chosen],
                confidences=[float(row[i]) for i in chosen],
            )
        )
    return results


def _as_list(texts: str | Sequence[str]) -> list[str]:
    return [texts] if isinstance(texts, str) else list(texts)


class Embedder:
    """Embeds texts with a base model or a finetuned body, cleaning them as at training time."""

    def __init__(
        self, model: SentenceTransformer, cleaning: CleaningConfig | None = None, name: str = ""
    ) -> None:
        self.model = model
        self.cleaning = cleaning or CleaningConfig()
        self.name = name

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length or self.model.tokenizer.model_max_length)

    def embed(self, texts: str | Sequence[str]) -> np.ndarray:
        """One normalised vector per text (2-D array even for one text)."""
        from core.model.heads import encode

        return encode(self.model, [self.cleaning.apply(t) for t in _as_list(texts)])


class Classifier(Embedder):
    """scikit-learn style classifier over a finetuned body: predict, predict_proba, classes_."""

    def __init__(
        self,
        model: SentenceTransformer,
        head: Head,
        labels: Sequence[str],
        cleaning: CleaningConfig | None = None,
        name: str = "",
    ) -> None:
        super().__init__(model, cleaning, name)
        self.head = head
        self.classes_ = np.asarray(list(labels), dtype=object)

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Probability of each label (columns in `classes_` order) for each text."""
        return self.head.predict_proba(self.embed(texts))

    @property
    def multi_label(self) -> bool:
        """Whether a text gets every label above its threshold (a one-vs-rest sigmoid head)."""
        return isinstance(self.head, SigmoidHead)

    @property
    def thresholds_(self) -> np.ndarray | None:
        """The decision threshold of each label (multi-label), in `classes_` order."""
        if not isinstance(self.head, SigmoidHead):
            return None
        n = len(self.classes_)
        return self.head.thresholds_ if self.head.thresholds_ is not None else np.full(n, 0.5)

    def predict(self, texts: str | Sequence[str]) -> list[str]:
        """The most likely label of each text."""
        return [str(self.classes_[i]) for i in self.predict_proba(texts).argmax(axis=1)]

    def predict_labels(self, texts: str | Sequence[str]) -> list[tuple[str, ...]]:
        """The labels of each text: those above their thresholds (multi-label), else the most
        likely one."""
        if not self.multi_label:
            return [(label,) for label in self.predict(texts)]
        chosen = self.predict_proba(texts) >= self.thresholds_
        return [tuple(str(c) for c in self.classes_[row]) for row in chosen]

    def classify(self, texts: str | Sequence[str]) -> list[Classification]:
        """Hosted-API shaped results: input, prediction, confidence, labels -> confidence (and
        predictions, confidences for a multi-label classifier)."""
        texts = _as_list(texts)
        return classify_probabilities(self, texts, self.predict_proba(texts))

    def save(self, directory: Path) -> None:
        """Write model/, head.safetensors and labels.json into `directory`."""
        save_classifier(self.model, self.head, list(self.classes_), self.cleaning, directory)


def classify_probabilities(
    classifier: Classifier, texts: Sequence[str], probabilities: np.ndarray
) -> list[Classification]:
    """Results from probabilities the classifier's head gave, single- or multi-label."""
    thresholds = classifier.thresholds_
    if thresholds is not None:
        return multilabel_classifications(texts, probabilities, classifier.classes_, thresholds)
    return classifications(texts, probabilities, classifier.classes_)


def save_classifier(
    model: SentenceTransformer,
    head: Head,
    labels: Sequence[str],
    cleaning: CleaningConfig,
    directory: Path,
    extra: dict[str, Any] | None = None,
) -> None:
    """Save a finetuned body and its head in safe formats (safetensors + JSON, no pickle)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Built in a temporary folder beside the final files, then each part renamed into place:
    # no reader ever sees half a model (the run's status, written last, is the real gate).
    tmp = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory))
    try:
        model.save(str(tmp / MODEL_DIR))
        save_head(head, labels, cleaning, tmp, extra)
        if (directory / MODEL_DIR).exists():
            shutil.rmtree(directory / MODEL_DIR)
        for name in (MODEL_DIR, HEAD_FILE, LABELS_FILE):
            os.replace(tmp / name, directory / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_head(
    head: Head,
    labels: Sequence[str],
    cleaning: CleaningConfig,
    directory: Path,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a head (head.safetensors) and its labels and cleaning (labels.json) in `directory`."""
    from safetensors.numpy import save_file

    save_file(
        {
            "coef": np.ascontiguousarray(head.coef_, dtype=np.float64),
            "intercept": np.ascontiguousarray(head.intercept_, dtype=np.float64),
        },
        str(Path(directory) / HEAD_FILE),
    )
    meta = {
        "labels": [str(label) for label in labels],
        "cleaning": cleaning.to_dict(),
        "head": "logistic_regression",
        **(extra or {}),
    }
    if isinstance(head, SigmoidHead):
        n = len(meta["labels"])
        thresholds = head.thresholds_ if head.thresholds_ is not None else np.full(n, 0.5)
        meta.update(
            head="one_vs_rest_logistic_regression",
            multi_label=True,
            thresholds=[float(t) for t in thresholds],
        )
    (Path(directory) / LABELS_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def load_head(directory: Path) -> tuple[LinearHead | SigmoidHead, list[str], CleaningConfig]:
    """Rebuild the logistic-regression head from safetensors + JSON."""
    from safetensors.numpy import load_file

    directory = Path(directory)
    try:
        meta = json.loads((directory / LABELS_FILE).read_text(encoding="utf-8"))
        arrays = load_file(str(directory / HEAD_FILE))
        labels = [str(label) for label in meta["labels"]]
        cleaning = CleaningConfig.from_dict(meta.get("cleaning", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"the classifier head in {directory} is missing or damaged: {exc}") from exc
    coef, intercept = arrays["coef"], arrays["intercept"]
    multi = bool(meta.get("multi_label", False))
    expected_rows = 1 if len(labels) == 2 and not multi else len(labels)
    if coef.ndim != 2 or coef.shape[0] != expected_rows or intercept.shape != (expected_rows,):
        raise RunError(
            f"the classifier head in {directory} does not match its {len(labels)} labels"
        )
    if multi:
        thresholds = np.asarray(meta.get("thresholds") or [0.5] * len(labels), dtype=np.float64)
        if thresholds.shape != (len(labels),):
            raise RunError(
                f"the classifier head in {directory} has {thresholds.size} thresholds for "
                f"{len(labels)} labels"
            )
        return SigmoidHead(coef, intercept, thresholds), labels, cleaning
    return LinearHead(coef, intercept), labels, cleaning


def load_classifier_dir(
    directory: Path, device: str | None = None, name: str = "", backend: str = "torch"
) -> Classifier:
    """Load a saved classifier folder (model/ + head + labels); a backend other than torch
    runs the body exported beside the PyTorch one (`core.model.onnx.ensure_body` makes it);
    static runs the static model distilled from it, with its own head (core.runs.static makes
    them; a static export has them at its top, static/)."""
    from core.model.onnx import check_backend, load_body

    directory = Path(directory)
    if check_backend(backend) == "static":
        from core.model.static import STATIC_DIR, checked_static, load_static

        inside = directory / MODEL_DIR / STATIC_DIR
        folder = checked_static(inside if inside.is_dir() else directory / STATIC_DIR)
        head, labels, cleaning = load_head(folder)
        return Classifier(load_static(folder), head, labels, cleaning, name=name or directory.name)
    if not (directory / MODEL_DIR).is_dir():
        raise RunError(f"no model folder in {directory}: the run has no finished model")
    head, labels, cleaning = load_head(directory)
    if check_backend(backend) != "torch":
        model = load_body(directory / MODEL_DIR, backend)
    else:
        model = load_model(
            str(directory / MODEL_DIR), device=device or choose_device().torch_device
        )
    return Classifier(model, head, labels, cleaning, name=name or directory.name)


def load_embedder(model: str, device: str | None = None, backend: str = "torch") -> Embedder:
    """An embedder for a base model key ('small', 'large') or a model folder; a backend other
    than torch exports the body once (into the cache folder), checked on sample texts; static
    distils it once (unchecked: a base model has no labelled texts to check it on)."""
    from core.model.onnx import base_body, check_backend

    if check_backend(backend) == "static":
        from core.model.static import base_static

        return Embedder(base_static(model), name=model)
    if check_backend(backend) != "torch":
        return Embedder(base_body(model, backend), name=model)
    return Embedder(load_model(model, device=device), name=model)

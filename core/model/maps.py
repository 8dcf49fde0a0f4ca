"""2-D maps of embeddings (UMAP) and the base-versus-finetuned comparison the Playground draws."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.config import TrainConfig
from core.data.labeled import LabeledTexts

if TYPE_CHECKING:
    from core.model.classifier import Classifier, Embedder

UMAP_NEIGHBOURS = 15
"""umap-learn's default neighbourhood; fewer points than this use n - 1 neighbours."""
UMAP_MIN_POINTS = 5
"""Below this UMAP's graph is degenerate: the map is a PCA projection instead."""
UMAP_LARGE = 1000
"""From this many points UMAP runs 200 layout epochs instead of 500: 3,000 MiniLM vectors took
19.5 s with 500 and 12.8 s with 200 on 2 shared CPU cores, with the same clusters."""


def _pca(embeddings: np.ndarray) -> np.ndarray:
    """The first two principal components (zero-padded when the data has fewer)."""
    centred = embeddings - embeddings.mean(axis=0, keepdims=True)
    # SVD of the centred data: the right singular vectors are the principal axes.
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = u[:, :2] * s[:2]
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])
    return coords


def project(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D coordinates, one row per embedding: UMAP (cosine) from UMAP_MIN_POINTS points,
    PCA below that; the same input and seed give the same map."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {x.shape}")
    n = len(x)
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if n < UMAP_MIN_POINTS or np.allclose(x, x[0]):
        return _pca(x.astype(np.float64)).astype(np.float32)
    import umap

    reducer = umap.UMAP(
        n_neighbors=min(UMAP_NEIGHBOURS, n - 1),
        n_components=2,
        metric="cosine",
        # Spectral initialisation needs a well-connected graph; small sets start from PCA.
        init="spectral" if n > 2 * UMAP_NEIGHBOURS else "pca",
        n_epochs=200 if n >= UMAP_LARGE else None,
        random_state=seed,
        # A fixed seed makes umap single-threaded anyway; say so to keep it quiet.
        n_jobs=1,
    )
    with warnings.catch_warnings():
        # Small sets: "k >= N" / disconnected-graph notices that change nothing for the picture.
        warnings.simplefilter("ignore")
        coords = reducer.fit_transform(x)
    return np.asarray(coords, dtype=np.float32)


@dataclass(frozen=True)
class ComparisonMaps:  # noqa: PLW1641 - arrays inside: compared by identity
    """The same texts mapped with the base model and the finetuned model.

    `base_predicted` comes from a logistic-regression head fitted on the base model's
    embeddings of the training texts (the baseline classifier), `tuned_predicted` from the
    run's classifier; both are None when there are no true labels to compare with.
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    base: np.ndarray  # (n, 2)
    tuned: np.ndarray  # (n, 2)
    base_predicted: tuple[str, ...] | None
    tuned_predicted: tuple[str, ...]
    # Which heads marked the errors, in a sentence the page shows ("" for uploaded texts).
    scored_by: str = ""
    # Multi-label: each text's true labels as a cell ("a|b"), compared with the predicted cell;
    # `labels` then holds the first label of each, which colours the point.
    truth: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON values (coordinates rounded to what a picture needs)."""
        return {
            "texts": list(self.texts),
            "labels": None if self.labels is None else list(self.labels),
            "base": np.round(self.base, 4).tolist(),
            "tuned": np.round(self.tuned, 4).tolist(),
            "base_predicted": None if self.base_predicted is None else list(self.base_predicted),
            "tuned_predicted": list(self.tuned_predicted),
            "scored_by": self.scored_by,
            "truth": None if self.truth is None else list(self.truth),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ComparisonMaps:
        def strings(value: object) -> tuple[str, ...] | None:
            return None if value is None else tuple(str(v) for v in value)  # type: ignore[attr-defined]

        texts = strings(data["texts"]) or ()
        base = np.asarray(data["base"], dtype=np.float32).reshape(len(texts), 2)
        tuned = np.asarray(data["tuned"], dtype=np.float32).reshape(len(texts), 2)
        return cls(
            texts=texts,
            labels=strings(data["labels"]),
            base=base,
            tuned=tuned,
            base_predicted=strings(data["base_predicted"]),
            tuned_predicted=strings(data["tuned_predicted"]) or (),
            scored_by=str(data.get("scored_by", "")),
            truth=strings(data.get("truth")),
        )

    def rows(self, which: str) -> list[dict[str, object]]:
        """One record per text for drawing one map ('base' or 'tuned')."""
        if which not in ("base", "tuned"):
            raise ValueError(f"which must be 'base' or 'tuned', got {which!r}")
        coords = self.base if which == "base" else self.tuned
        predicted = self.base_predicted if which == "base" else self.tuned_predicted
        out = []
        for i, text in enumerate(self.texts):
            label = self.labels[i] if self.labels is not None else None
            guess = predicted[i] if predicted is not None else None
            truth = self.truth[i] if self.truth is not None else label
            out.append(
                {
                    "x": float(coords[i, 0]),
                    "y": float(coords[i, 1]),
                    "text": text,
                    "label": label if label is not None else guess,
                    "predicted": guess,
                    "correct": None if truth is None or guess is None else truth == guess,
                }
            )
        return out


def first_labels(data: LabeledTexts) -> tuple[str, ...]:
    """The label a map colours each text by: its label, or with several labels per row the
    first of them in label order ("" for a row without one)."""
    if data.label_sets is None:
        return data.labels
    return tuple(labels[0] if labels else "" for labels in data.label_sets)


def first_of_cells(cells: Sequence[str], classes: Sequence[str]) -> tuple[str, ...]:
    """`first_labels` of label cells joined by "|" ("joy|love"): each row's first label in the
    order of `classes` (a label the run does not know comes after them), "" for an empty cell."""
    from core.data.multilabel import split_cell

    order = {label: i for i, label in enumerate(classes)}
    return tuple(
        min(labels, key=lambda label: order.get(label, len(order))) if labels else ""
        for labels in (split_cell(cell) for cell in cells)
    )


def compare_maps(
    base: Embedder,
    tuned: Classifier,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    train: LabeledTexts | None = None,
    config: TrainConfig | None = None,
    seed: int = 0,
    predicted: tuple[Sequence[str], Sequence[str]] | None = None,
    scored_by: str = "",
    truth: Sequence[str] | None = None,
) -> ComparisonMaps:
    """Embed the texts with both models and map each; mark what each classifier gets wrong.

    `predicted` gives both models' predictions (base, finetuned) when they were made by heads
    that never saw these texts (a run's validation scores); otherwise the finetuned
    classifier predicts and the base model gets a head fitted on `train`. `scored_by` says
    which, for the page; `truth` holds multi-label rows' label cells."""
    from core.model.heads import fit_head

    texts = tuple(texts)
    labels = tuple(labels) if labels is not None else None
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"expected {len(texts)} labels, got {len(labels)}")
    base_vectors = base.embed(texts)
    tuned_vectors = tuned.embed(texts)
    if predicted is not None:
        return ComparisonMaps(
            texts=texts,
            labels=labels,
            base=project(base_vectors, seed=seed),
            tuned=project(tuned_vectors, seed=seed),
            base_predicted=tuple(predicted[0]),
            tuned_predicted=tuple(predicted[1]),
            scored_by=scored_by,
            truth=None if truth is None else tuple(truth),
        )
    tuned_predicted = tuple(tuned.predict(texts)) if texts else ()
    base_predicted = None
    classes = [str(c) for c in tuned.classes_]
    if labels is not None and train is not None and texts:
        index = {label: i for i, label in enumerate(classes)}
        given = first_labels(train)  # multi-label: the first label, as the map colours them
        keep = [i for i, label in enumerate(given) if label in index]
        if len({given[i] for i in keep}) >= 2:
            head = fit_head(
                base.embed([train.texts[i] for i in keep]),
                np.array([index[given[i]] for i in keep], dtype=np.int64),
                config or TrainConfig(),
            )
            base_predicted = tuple(classes[i] for i in head.predict(base_vectors))
    return ComparisonMaps(
        texts=texts,
        labels=labels,
        base=project(base_vectors, seed=seed),
        tuned=project(tuned_vectors, seed=seed),
        base_predicted=base_predicted,
        tuned_predicted=tuned_predicted,
        scored_by=scored_by,
    )

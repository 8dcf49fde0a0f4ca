"""Encoding texts and the logistic-regression head: what prediction, the trainer and the label
check share (no training code here, so inference never imports the trainer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.config import TrainConfig
from core.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

# Encoding batch: large enough to keep the CPU busy, small enough for 512-token texts on a GPU.
ENCODE_BATCH_SIZE = 64


def embedding_dim(model: SentenceTransformer) -> int:
    """The length of the model's sentence embeddings."""
    dim = model.get_embedding_dimension()
    if dim is None:
        raise ModelError("the model does not say how long its embeddings are: not a sentence model")
    return int(dim)


def encode(model: SentenceTransformer, texts: Sequence[str]) -> np.ndarray:
    """Sentence embeddings as a float32 array (the model's own pooling and normalisation)."""
    if not texts:
        return np.zeros((0, embedding_dim(model)), dtype=np.float32)
    return model.encode(
        list(texts),
        batch_size=ENCODE_BATCH_SIZE,
        convert_to_numpy=True,
        show_progress_bar=False,
    ).astype(np.float32)


def fit_head(embeddings: np.ndarray, y: np.ndarray, config: TrainConfig) -> LogisticRegression:
    """The logistic-regression head (phase two), on class ids 0..K-1."""
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(
        C=config.head_c,
        max_iter=2000,
        class_weight="balanced" if config.head_balanced else None,
        random_state=config.seed,
    )
    return head.fit(embeddings, y)


class Head(Protocol):
    """What prediction needs of a head: scikit-learn's LogisticRegression, or a LinearHead."""

    @property
    def coef_(self) -> np.ndarray: ...

    @property
    def intercept_(self) -> np.ndarray: ...

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray: ...

    def predict(self, embeddings: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LinearHead:
    """A fitted logistic-regression head as its arrays, predicting as scikit-learn does (softmax
    over the decision function; a sigmoid for two labels, whose one row of weights is the second
    label's). A saved classifier loads into this rather than into a scikit-learn estimator whose
    fitted attributes are set from outside (its internals change between versions)."""

    coef_: np.ndarray  # (labels, dim), or (1, dim) for two labels
    intercept_: np.ndarray

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(max(2, self.coef_.shape[0]))

    def decision_function(self, embeddings: np.ndarray) -> np.ndarray:
        scores = np.asarray(embeddings, dtype=np.float64) @ self.coef_.T + self.intercept_
        return scores.ravel() if self.coef_.shape[0] == 1 else scores

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        scores = self.decision_function(embeddings)
        if scores.ndim == 1:
            positive = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return self.predict_proba(embeddings).argmax(axis=1)


def head_as_softmax(head: LogisticRegression, num_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """The head's decision function as softmax logits: (weight K x d, bias K)."""
    coef, intercept = head.coef_, head.intercept_
    if num_labels == 2:
        # Binary LR gives one logit w.x + b; softmax over (-z/2, z/2) is the same sigmoid.
        return np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


# ----------------------------------------------------------------------------- multi-label heads


@dataclass(frozen=True)
class SigmoidHead:
    """One-vs-rest logistic regressions as one array: an independent sigmoid per label, so a
    text's confidences do not sum to 1 (multi-label). `predict` applies the per-label decision
    thresholds (0.5 where none was chosen) and gives a 0/1 indicator matrix, as scikit-learn's
    multi-label estimators do."""

    coef_: np.ndarray  # (labels, dim)
    intercept_: np.ndarray  # (labels,)
    thresholds_: np.ndarray | None = None  # (labels,)

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.coef_.shape[0])

    def decision_function(self, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings, dtype=np.float64) @ self.coef_.T + self.intercept_

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision_function(embeddings)))

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        thresholds = 0.5 if self.thresholds_ is None else self.thresholds_
        return (self.predict_proba(embeddings) >= thresholds).astype(np.int64)

    def with_thresholds(self, thresholds: np.ndarray) -> SigmoidHead:
        return SigmoidHead(self.coef_, self.intercept_, np.asarray(thresholds, dtype=np.float64))


def fit_multilabel_head(embeddings: np.ndarray, y: np.ndarray, config: TrainConfig) -> SigmoidHead:
    """One logistic regression per label (one-vs-rest) on a 0/1 indicator matrix (rows x
    labels), unweighted: the per-label thresholds, chosen on validation, set the balance."""
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros((y.shape[1], embeddings.shape[1]))
    intercept = np.zeros(y.shape[1])
    for k in range(y.shape[1]):
        column = y[:, k]
        positives = int(column.sum())
        if positives in (0, len(column)):
            # Every row agrees: a constant score (logit of the smoothed rate), as a probe would.
            rate = (positives + 0.5) / (len(column) + 1.0)
            intercept[k] = np.log(rate / (1 - rate))
            continue
        head = LogisticRegression(C=config.head_c, max_iter=2000, random_state=config.seed)
        head.fit(embeddings, column)
        coef[k], intercept[k] = head.coef_[0], head.intercept_[0]
    return SigmoidHead(coef, intercept)

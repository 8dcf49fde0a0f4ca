"""What the label check learns from: the texts embedded once with the frozen base model, and each
row's label probabilities from a head that never saw it (stratified k-fold)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.quality.near_duplicates import Progress

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

# The out-of-fold head of the check: C=1 without class weights, not the classifier's balanced
# C=4. cleanlab compares each row's probability with its label's own threshold; balanced weights
# lift the rare labels' probabilities and flag many rows of the common ones. Planted 5 % flips,
# 7 sets x 3 seeds (docs/BENCHMARKS.md, Label issues): precision@k 0.61 with this head, 0.58 with
# the classifier's (sms-spam 0.85 against 0.71; clinc150 0.70 against 0.77).
CHECK_HEAD_C, CHECK_HEAD_BALANCED = 1.0, False
MAX_FOLDS = 5
"""Most folds for the out-of-fold probabilities: 5 keeps each head trained on 80 % of the rows."""
MIN_FOLD_EXAMPLES = 2
"""Examples of each label wanted in every held-out fold (fewer folds are used to get them)."""
EMBED_CHUNK = 512
"""Texts embedded per progress step."""


def choose_folds(counts: Mapping[str, int]) -> int:
    """k for the stratified k-fold: at most MAX_FOLDS, and small enough that every label has
    MIN_FOLD_EXAMPLES examples in each held-out fold where its count allows; at least 2."""
    smallest = min(counts.values())
    return max(2, min(MAX_FOLDS, smallest // MIN_FOLD_EXAMPLES))


def embed(model: SentenceTransformer, texts: tuple[str, ...], report: Progress) -> np.ndarray:
    """The texts' embeddings by the frozen model, unit length (cosine as a dot product)."""
    import numpy as np

    from core.model.heads import embedding_dim, encode

    parts = []
    report("embedding", 0, len(texts))
    for start in range(0, len(texts), EMBED_CHUNK):
        parts.append(encode(model, texts[start : start + EMBED_CHUNK]))
        report("embedding", min(start + EMBED_CHUNK, len(texts)), len(texts))
    if not parts:
        return np.zeros((0, embedding_dim(model)), dtype=np.float32)
    embeddings = np.concatenate(parts)
    # Cosine as a dot product needs unit vectors whatever the model's own normalisation.
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


def out_of_fold(
    x: np.ndarray, y: np.ndarray, num_labels: int, folds: int, seed: int, report: Progress
) -> np.ndarray:
    """Each row's label probabilities from a head that never saw it (labels 0..num_labels-1)."""
    import warnings

    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    from core.config import TrainConfig
    from core.model.heads import fit_head

    config = TrainConfig(seed=seed, head_c=CHECK_HEAD_C, head_balanced=CHECK_HEAD_BALANCED)
    probs = np.zeros((len(y), num_labels), dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # A label with fewer examples than folds is expected here (choose_folds explains).
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(splitter.split(x, y))
    report("folds", 0, folds)
    for done, (train_idx, test_idx) in enumerate(splits, start=1):
        head = fit_head(x[train_idx], y[train_idx], config)
        # A label missing from this fold's training rows keeps probability 0.
        probs[np.ix_(test_idx, head.classes_)] = head.predict_proba(x[test_idx])
        report("folds", done, folds)
    return probs

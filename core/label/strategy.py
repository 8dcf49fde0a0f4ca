"""Which texts to ask next: the ones the head is least sure of (the smallest margin between its
two likeliest labels, "breaking ties"), spread over the pool's clusters so that one batch does
not ask ten near-copies of one question; with no model yet (labels that are codes, nothing
labelled), the texts nearest the clusters' centres. Random choice is here too, as the baseline the
benchmark measures against (bench/active_learning.py; docs/BENCHMARKS.md, "Labelling loop")."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STRATEGIES = ("clustered-margin", "margin", "entropy", "random")
DEFAULT_STRATEGY = "clustered-margin"
CANDIDATES_PER_PICK = 10
"""The clustered margin first keeps the 10 x n least sure texts, then clusters those into n
groups and asks the least sure of each (Citovsky et al. 2021, "Batch active learning at scale")."""


def margins(probabilities: np.ndarray) -> np.ndarray:
    """The gap between each text's two likeliest labels (0: a tie, 1: sure)."""
    if probabilities.shape[1] < 2:
        return np.ones(len(probabilities))
    top = np.partition(probabilities, -2, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


def entropies(probabilities: np.ndarray) -> np.ndarray:
    """The entropy of each text's label probabilities (higher: less sure)."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(probabilities * np.log(p)).sum(axis=1)


def choose(
    embeddings: np.ndarray,
    probabilities: np.ndarray | None,
    open_texts: Sequence[int] | np.ndarray,
    n: int,
    *,
    strategy: str = DEFAULT_STRATEGY,
    seed: int = 0,
) -> list[int]:
    """The next `n` texts to ask, among `open_texts` (pool positions not answered yet), most
    useful first. `probabilities`: the head's for every text of the pool, or None when there
    is no model yet (then the cold start: texts that stand for the pool's clusters)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    candidates = np.asarray(sorted(set(int(i) for i in open_texts)), dtype=np.int64)
    n = min(n, len(candidates))
    if n <= 0:
        return []
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return [int(i) for i in rng.choice(candidates, n, replace=False)]
    if probabilities is None:
        return representatives(embeddings, candidates, n, seed)
    unsure = probabilities[candidates]
    if strategy == "entropy":
        order = np.argsort(-entropies(unsure), kind="stable")
        return [int(i) for i in candidates[order[:n]]]
    margin = margins(unsure)
    order = np.argsort(margin, kind="stable")
    if strategy == "margin" or n == 1:
        return [int(i) for i in candidates[order[:n]]]
    shortlist = order[: CANDIDATES_PER_PICK * n]
    groups = _clusters(embeddings[candidates[shortlist]], n, seed)
    picked: list[int] = []
    for group in range(n):
        members = np.flatnonzero(groups == group)
        if len(members):
            best = members[np.argmin(margin[shortlist[members]])]
            picked.append(int(shortlist[best]))
    picked.sort(key=lambda i: margin[i])
    chosen = set(picked)
    picked += [int(i) for i in shortlist if int(i) not in chosen][: n - len(picked)]
    return [int(candidates[i]) for i in picked]


def representatives(
    embeddings: np.ndarray, candidates: np.ndarray, n: int, seed: int = 0
) -> list[int]:
    """`n` texts that stand for the pool: the nearest to each of n k-means centres."""
    vectors = embeddings[candidates]
    groups, centres = _kmeans(vectors, n, seed)
    picked: list[int] = []
    taken: set[int] = set()
    for group in range(n):
        members = np.flatnonzero(groups == group)
        if not len(members):
            continue
        distance = ((vectors[members] - centres[group]) ** 2).sum(axis=1)
        for member in members[np.argsort(distance, kind="stable")]:
            if int(member) not in taken:
                taken.add(int(member))
                picked.append(int(member))
                break
    rest = [i for i in range(len(candidates)) if i not in taken]
    picked += rest[: n - len(picked)]
    return [int(candidates[i]) for i in picked]


def _clusters(vectors: np.ndarray, n: int, seed: int) -> np.ndarray:
    return _kmeans(vectors, n, seed)[0]


def _kmeans(vectors: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means labels and centres (one initialisation: a batch's choice, not a clustering to
    keep)."""
    from sklearn.cluster import KMeans

    n = min(n, len(vectors))
    fitted = KMeans(n_clusters=n, n_init=1, random_state=seed).fit(vectors)
    return fitted.labels_, fitted.cluster_centers_

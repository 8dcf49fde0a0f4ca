"""Which texts to ask next: the ones the head is least sure of, by the margin between its two
likeliest labels ("breaking ties"), leaving out near-copies of a text already in the batch; with
no model yet (labels that are codes, nothing labelled), the texts nearest the centres of the
pool's k-means clusters. Chosen by measurement (bench/active_learning.py; docs/BENCHMARKS.md,
"Labelling loop"): mixing in diversity (the least sure text of each k-means cluster of the
10 x n least sure, "clustered-margin") was ahead at some points (clinc150 +3.6 points at 50
labels, emotion +2.6 at 100) and behind at others (sms-spam -8 at 50, hwu64 and emotion -1.5 at
400); entropy trailed the margin at 400 labels on every set of more than two labels; small-text
1.4.1's BreakingTies is the same margin (same figures), its EmbeddingKMeans and GreedyCoreset
trailed. Random choice is here as the benchmark's baseline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STRATEGIES = ("margin", "clustered-margin", "entropy", "random")
DEFAULT_STRATEGY = "margin"
NEAR_COPY = 0.95
"""Cosine above which two texts of one batch count as near-copies (the shared sets' margin
batches hold none above 0.9; a pool of templated tickets does)."""
CANDIDATES_PER_PICK = 10
"""The clustered margin first keeps the 10 x n least sure texts, then clusters those into n
groups and asks the least sure of each (Citovsky et al. 2021, "Batch active learning at scale")."""


AUDIT_PER_BATCH = 2
"""Texts of each of the app's batches drawn at random from the pool: the texts the strategy asks
are the ones the head is least sure of, so the head's accuracy measured on them says little of
its accuracy on the pool (hwu64 at 200 labels: 0.36 cross-validated on the asked texts against
0.77 on test); the random ones measure it without that bias (core.label.progress.estimate)."""


def audit(
    open_texts: Sequence[int] | np.ndarray, taken: Sequence[int], k: int, seed: int
) -> list[int]:
    """`k` texts drawn at random among `open_texts` not in `taken` (the strategy's picks)."""
    rest = np.asarray(sorted(set(int(i) for i in open_texts) - set(taken)), dtype=np.int64)
    k = min(k, len(rest))
    if k <= 0:
        return []
    return [int(i) for i in np.random.default_rng(seed).choice(rest, k, replace=False)]


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
        return [int(candidates[i]) for i in _distinct(embeddings[candidates], order, n)]
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


def _distinct(vectors: np.ndarray, order: np.ndarray, n: int) -> list[int]:
    """The first `n` of `order` leaving out a text nearly the same as one taken (cosine above
    NEAR_COPY): a pool of tickets holds templated near-copies, and asking the same question
    twice in one batch teaches once. Those left out come last if too few remain."""
    taken: list[int] = []
    later: list[int] = []
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    for i in order:
        if len(taken) == n:
            break
        if taken and float((unit[taken] @ unit[i]).max()) > NEAR_COPY:
            later.append(int(i))
        else:
            taken.append(int(i))
    return (taken + later)[:n]


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

"""Which texts to ask next: properties of each strategy on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from core.label.strategy import STRATEGIES, choose, entropies, margins


def blobs(sizes=(6, 6, 6), seed=0):
    """Points in tight groups around distant centres, and the group of each."""
    rng = np.random.default_rng(seed)
    centres = np.eye(len(sizes), 8) * 10
    points = np.vstack([c + rng.normal(0, 0.1, (n, 8)) for c, n in zip(centres, sizes)])
    return points, np.repeat(np.arange(len(sizes)), sizes)


def probabilities_with_margins(values):
    """Two-label probabilities whose margins are `values`."""
    top = (1 + np.asarray(values)) / 2
    return np.column_stack([top, 1 - top])


def test_margin_and_entropy():
    p = np.array([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1]])
    np.testing.assert_allclose(margins(p), [0.0, 0.85, 0.3])
    assert np.argsort(-entropies(p)).tolist() == [2, 0, 1]  # three-way doubt beats a tie


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_asks_distinct_open_texts(strategy):
    points, _ = blobs((20, 20, 20))
    p = probabilities_with_margins(np.linspace(0, 1, 60))
    open_texts = np.arange(60)[::2]
    for probabilities in (p, None):
        picked = choose(points, probabilities, open_texts, 7, strategy=strategy, seed=1)
        assert len(picked) == 7 and len(set(picked)) == 7
        assert set(picked) <= set(open_texts.tolist())
        assert all(isinstance(i, int) for i in picked)
    # Fewer open texts than asked for: all of them; none open: nothing.
    assert sorted(choose(points, p, [3, 5], 10, strategy=strategy)) == [3, 5]
    assert choose(points, p, [], 10, strategy=strategy) == []


def test_margin_asks_the_least_sure_first():
    points = np.random.default_rng(0).normal(size=(20, 8))  # no two alike
    p = probabilities_with_margins(np.linspace(1, 0, 20))  # the last text is a tie
    assert choose(points, p, range(20), 3, strategy="margin") == [19, 18, 17]


def test_margin_leaves_near_copies_out_of_a_batch():
    points, group = blobs((6, 6, 6))  # each group: near-copies (cosine > 0.99)
    p = probabilities_with_margins(np.linspace(0, 1, 18))
    picked = choose(points, p, range(18), 3, strategy="margin")
    assert picked == [0, 6, 12]  # the least sure of each group before a second of any
    assert choose(points, p, range(6), 3, strategy="margin") == [0, 1, 2]  # none else left


def test_clustered_margin_spreads_a_batch_over_groups():
    # The 6 least sure texts are near-copies in group 0; group 1 holds the next least sure.
    points, group = blobs((6, 6, 6))
    values = np.concatenate([np.linspace(0, 0.05, 6), np.linspace(0.1, 0.15, 6), np.ones(6)])
    p = probabilities_with_margins(values)
    picked = choose(points, p, range(18), 2, strategy="clustered-margin")
    assert sorted(group[picked]) == [0, 1]
    assert picked[0] == 0  # the least sure of each group, least sure first
    assert picked[1] == 6


def test_the_cold_start_asks_one_text_per_group():
    points, group = blobs((10, 4, 7))
    for strategy in ("clustered-margin", "margin", "entropy"):
        picked = choose(points, None, range(21), 3, strategy=strategy)
        assert sorted(group[picked]) == [0, 1, 2]


def test_random_is_seeded():
    points, _ = blobs()
    a = choose(points, None, range(18), 5, strategy="random", seed=4)
    assert a == choose(points, None, range(18), 5, strategy="random", seed=4)
    assert a != choose(points, None, range(18), 5, strategy="random", seed=5)


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy 'best'"):
        choose(np.zeros((2, 2)), None, [0, 1], 1, strategy="best")

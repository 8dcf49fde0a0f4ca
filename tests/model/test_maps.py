"""UMAP projections: shapes and determinism from 0 points to a few thousand."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.maps import ComparisonMaps, compare_maps, project


def blobs(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 4
    return (centres[np.arange(n) % 3] + rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 16, 40])
def test_any_size_gives_finite_n_by_2(n):
    coords = project(blobs(n))
    assert coords.shape == (n, 2)
    assert np.isfinite(coords).all()


def test_identical_points_do_not_fail():
    assert project(np.ones((10, 8))).shape == (10, 2)


def test_same_seed_same_map():
    x = blobs(60)
    assert np.allclose(project(x, seed=3), project(x, seed=3))


def test_umap_keeps_clusters_apart():
    x = blobs(90)
    coords = project(x)
    groups = np.arange(90) % 3
    centres = np.array([coords[groups == g].mean(axis=0) for g in range(3)])
    spread = max(np.linalg.norm(coords[groups == g] - centres[g], axis=1).mean() for g in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread


def test_rejects_a_1d_array():
    with pytest.raises(ValueError, match="2-D"):
        project(np.zeros(5))


@pytest.mark.slow
def test_a_few_thousand_points_are_projected():
    # How long it takes is a benchmark figure (bench/), not a test assertion.
    coords = project(blobs(2000, dim=384))
    assert coords.shape == (2000, 2) and np.isfinite(coords).all()


class FakeModel:
    """Deterministic 'embeddings' from word features, enough to exercise compare_maps."""

    classes_ = np.array(["neg", "pos"], dtype=object)

    def embed(self, texts):
        return np.array(
            [[t.count("good"), t.count("bad"), len(t) / 10, 1.0] for t in texts], dtype=np.float32
        )

    def predict(self, texts):
        return ["pos" if "good" in t else "neg" for t in texts]


def test_compare_maps_marks_mistakes_and_uses_labels():
    from core.data.labeled import LabeledTexts

    texts = ["good", "bad", "good good", "bad day", "so good", "bad bad"]
    labels = ["pos", "neg", "pos", "neg", "neg", "neg"]
    train = LabeledTexts.from_pairs([("good one", "pos"), ("bad one", "neg")] * 3)
    maps = compare_maps(FakeModel(), FakeModel(), texts, labels, train=train)
    assert isinstance(maps, ComparisonMaps)
    assert maps.base.shape == maps.tuned.shape == (6, 2)
    tuned = maps.rows("tuned")
    assert [r["correct"] for r in tuned] == [True, True, True, True, False, True]
    assert maps.base_predicted is not None and len(maps.rows("base")) == 6


def test_compare_maps_without_labels_colours_by_prediction():
    maps = compare_maps(FakeModel(), FakeModel(), ["good", "bad"])
    rows = maps.rows("tuned")
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert all(r["correct"] is None for r in rows)
    assert maps.base_predicted is None


def test_a_multi_label_text_is_coloured_by_its_first_label_in_the_runs_order():
    from core.model.maps import first_of_cells

    classes = ["admiration", "joy", "surprise"]
    cells = ["surprise|joy", "", "gratitude|surprise", '"R|B"|joy']
    assert first_of_cells(cells, classes) == ("joy", "", "surprise", "joy")

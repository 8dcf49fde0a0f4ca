"""The pool's embeddings: computed once per (texts, model), with progress, kept in a folder."""

from __future__ import annotations

import numpy as np

from core.label.embeddings import cache_path, cached_embeddings


def test_embeddings_are_computed_once_and_reused(tmp_path):
    calls: list[int] = []

    def encode(texts):
        calls.append(len(texts))
        return np.array([[len(t), 1.0] for t in texts])

    texts = [f"text number {i}" for i in range(300)]
    reports: list[tuple[int, int]] = []
    first = cached_embeddings(
        encode,
        texts,
        model_key="small",
        folder=tmp_path,
        progress=lambda d, n, s: reports.append((d, n)),
    )
    assert first.dtype == np.float32 and first.shape == (300, 2)
    assert calls == [256, 44] and reports == [(256, 300), (300, 300)]
    again = cached_embeddings(encode, texts, model_key="small", folder=tmp_path)
    assert calls == [256, 44]  # read back, not encoded
    np.testing.assert_array_equal(again, first)
    # Another model, or other texts, are other files.
    assert cache_path(tmp_path, "ft-1 2026", texts) != cache_path(tmp_path, "small", texts)
    assert cache_path(tmp_path, "small", texts[:-1]) != cache_path(tmp_path, "small", texts)
    assert [p.name for p in tmp_path.iterdir()] == [cache_path(tmp_path, "small", texts).name]


def test_a_damaged_cache_file_is_computed_again(tmp_path):
    texts = ["a", "b"]
    cache_path(tmp_path, "small", texts).write_bytes(b"not numpy")
    vectors = cached_embeddings(
        lambda t: np.ones((len(t), 3)), texts, model_key="small", folder=tmp_path
    )
    assert vectors.shape == (2, 3)
    assert np.load(cache_path(tmp_path, "small", texts)).shape == (2, 3)

"""prepare: the review of a file as the model sees it, at the sizes people upload."""

from __future__ import annotations

import tracemalloc

from core.data.files import read_labeled_csv
from core.data.labeled import LabeledTexts


def test_100k_rows_and_100k_character_texts_are_read_and_reviewed_in_bounded_memory():
    from bench.robustness import make_csv
    from core.quality.review import review

    raw = make_csv(100_000, 100_000, 10)  # 7 MB: 100,000 rows, 10 of them 100,000 characters
    tracemalloc.start()
    try:
        data = read_labeled_csv(raw, name="big.csv")
        report = review(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == 100_000 and max(len(t) for t in data.texts) == 100_000
    assert report.train_rows + report.valid_rows == 100_000
    assert peak < 40 * len(raw), f"peak {peak / 2**20:.0f} MB for a {len(raw) / 2**20:.0f} MB file"


def test_a_100k_character_text_is_cut_for_the_model_where_the_review_says():
    from core.model.classifier import load_embedder
    from core.quality.prepare import review_for_model

    long = ("the soup was far too salty tonight " * 3000)[:100_000].strip()
    data = LabeledTexts.from_pairs([(long, "food"), ("she scored twice", "sport")] * 3)
    stats = review_for_model(data, model="small").train_tokens
    assert stats.truncated_rows == (1, 3, 5) and stats.max > 10_000
    embedder = load_embedder("small", device="cpu")
    assert embedder.max_seq_length == stats.max_tokens == 256
    # The model sees exactly the first max_tokens tokens ([CLS] and [SEP] included).
    tokenizer = embedder.model.tokenizer
    kept = tokenizer(long, add_special_tokens=False)["input_ids"][: stats.max_tokens - 2]
    prefix = tokenizer.decode(kept)
    assert len(prefix) < 2_000  # 254 tokens of a 100,000-character text
    vectors = embedder.embed([long, prefix])
    assert abs(float(vectors[0] @ vectors[1]) - 1.0) < 1e-5

"""The labelling head: the names alone, answers, self-training, labels without examples."""

from __future__ import annotations

import numpy as np

from core.label.learner import guess, name_rows, surest


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# Pool texts around two directions: 0-4 near the first label's name, 5-9 near the second's.
RNG = np.random.default_rng(0)
POOL = unit(
    np.vstack([[1, 0.2, 0] + RNG.normal(0, 0.1, (5, 3)), [0.2, 1, 0] + RNG.normal(0, 0.1, (5, 3))])
)
NAMES = unit([[1, 0, 0], [0, 1, 0]])


def test_name_rows():
    texts, ids = name_rows(["card_arrival", "w2", "cardLost"])
    assert texts == ["card arrival", "card Lost"] and ids.tolist() == [0, 2]
    texts, ids = name_rows(["0", "1"])  # codes say nothing
    assert texts == [] and ids.tolist() == []


def test_the_names_alone_classify_the_pool():
    found = guess(POOL, {}, NAMES, np.array([0, 1]), 3, pseudo_per_label=0)
    assert found is not None
    assert found.predictions.tolist() == [0] * 5 + [1] * 5
    assert found.probabilities.shape == (10, 3)
    assert np.all(found.probabilities[:, 2] == 0)  # a label with no example: never guessed
    assert (found.labelled, found.names, found.pseudo) == (0, 2, 0)
    np.testing.assert_allclose(found.probabilities.sum(axis=1), 1)


def test_no_model_until_two_labels_have_an_example():
    no_names = np.zeros((0, 3), dtype=np.float32)
    assert guess(POOL, {}, no_names, np.zeros(0, dtype=np.int64), 2) is None
    assert guess(POOL, {0: 1, 3: 1}, no_names, np.zeros(0, dtype=np.int64), 2) is None
    found = guess(POOL, {0: 1, 7: 0}, no_names, np.zeros(0, dtype=np.int64), 2)
    assert found is not None and found.labelled == 2


def test_answers_teach_the_head_against_the_names():
    # Every text near the first name answered as the second label: the head follows the answers.
    answers = {i: 1 for i in range(5)} | {i: 0 for i in range(5, 10)}
    found = guess(POOL, answers, NAMES, np.array([0, 1]), 2, pseudo_per_label=0)
    assert found.predictions.tolist() == [1] * 5 + [0] * 5
    test = unit([[1, 0.2, 0], [0.2, 1, 0]])
    assert found.head.predict_proba(test).argmax(axis=1).tolist() == [1, 0]


def test_self_training_adds_the_surest_pool_texts_of_each_label():
    found = guess(POOL, {0: 0}, NAMES, np.array([0, 1]), 2, pseudo_per_label=3)
    assert found.pseudo == 6  # 3 per label, never the answered text 0
    assert found.predictions.tolist() == [0] * 5 + [1] * 5
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.95, 0.05]])
    assert sorted(surest(p, np.array([3]), 1).tolist()) == [0, 2]

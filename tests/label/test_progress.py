"""How a session is going: the cross-validated accuracy estimate with its Wilson interval, the
curve kept in the session, and the spread of the head's guesses over the labels."""

from __future__ import annotations

import numpy as np
import pytest

from core.label.loop import Embedded, advance
from core.label.pool import make_pool
from core.label.progress import MIN_MEASURED, estimate, spread
from core.label.session import new_session

RNG = np.random.default_rng(0)
# Two clusters far apart, 20 texts each: a head guesses every held-out text right.
POOL = np.vstack([RNG.normal([4, 0], 0.3, (20, 2)), RNG.normal([0, 4], 0.3, (20, 2))])
NAMES = np.array([[1, 0], [0, 1]], dtype=np.float32)


def test_separable_texts_are_guessed_right_with_a_wilson_interval():
    answers = {i: 0 for i in range(10)} | {20 + i: 1 for i in range(10)}
    found = estimate(POOL, answers, NAMES, np.array([0, 1]), 2)
    assert (found.right, found.n, found.labelled) == (20, 20, 20)
    assert found.accuracy == 1.0
    # Wilson's interval for 20 of 20 at 95 %: [0.8389, 1]
    assert found.low == pytest.approx(0.8389, abs=1e-4)
    assert found.high == pytest.approx(1.0)


def test_an_answer_against_its_neighbours_counts_wrong():
    answers = {i: 0 for i in range(10)} | {20 + i: 1 for i in range(10)}
    answers[0] = 1  # a slip: the head that never saw it guesses it as its neighbours are
    found = estimate(POOL, answers, NAMES, np.array([0, 1]), 2)
    assert (found.right, found.n) == (19, 20)
    assert found.low < 0.95 < found.high


def test_too_few_labelled_texts_give_no_estimate():
    answers = {i: 0 for i in range(MIN_MEASURED - 1)}
    assert estimate(POOL, answers, NAMES, np.array([0, 1]), 2) is None
    answers = {i: 0 for i in range(20)} | {20 + i: 1 for i in range(20)}
    audited = list(range(MIN_MEASURED - 1))
    assert estimate(POOL, answers, NAMES, np.array([0, 1]), 2, audited=audited) is None


def test_the_estimate_is_taken_on_the_texts_drawn_at_random():
    answers = {i: 0 for i in range(20)} | {20 + i: 1 for i in range(20)}
    answers[0] = 1  # a slip, not among the measured texts: it only teaches
    found = estimate(POOL, answers, NAMES, np.array([0, 1]), 2, audited=[1, 2, 3, 21, 22, 23])
    assert (found.right, found.n, found.labelled) == (6, 6, 40)


def test_each_batch_draws_two_texts_at_random_and_the_curve_measures_on_them():
    texts = [f"text {i}" for i in range(40)]
    vectors = Embedded(POOL, NAMES, np.array([0, 1]), np.zeros((0, 2)))
    turn = advance(new_session(make_pool(texts), "left,right"), vectors, 10)
    for _ in range(3):
        drawn = set(turn.session.audit[-2:])
        assert len(turn.session.batch) == 10 and drawn <= set(turn.session.batch)
        assert turn.session.history == ()  # fewer than 6 texts drawn at random answered
        answers = {i: "left" if i < 20 else "right" for i in turn.session.batch}
        turn = advance(turn.session.answer(answers), vectors, 10)
    assert len(turn.session.audit) == 8  # 2 a batch, 4 batches asked
    (point,) = turn.session.history
    assert (point.labelled, point.n, point.right) == (30, 6, 6)
    again = advance(turn.session.answer({turn.session.batch[0]: "skip"}), vectors, 10)
    assert len(again.session.history) == 1  # a skip adds no labelled text: the same point


def test_the_spread_of_guesses():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.2, 0.8, 0.0]])
    found = spread(probabilities, ("a", "b", "c"))
    assert found.counts == (2, 1, 0)
    assert found.confidence[0] == pytest.approx(0.75)
    assert found.confidence[2] is None
    assert found.unguessed() == ("c",)

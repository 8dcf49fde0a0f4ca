"""One turn of the loop on small arrays: answers from a file joined, the next batch, its guesses."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import DataError
from core.label.loop import Embedded, Extra, join_answers, next_turn
from core.label.pool import make_pool
from core.label.session import new_session

TEXTS = ["card late", "card lost", "card never came", "refund now", "money back", "refund order"]
# Card texts point one way, refund texts the other; the label names likewise.
POOL = np.array([[1, 0.1], [1, 0.2], [1, 0.3], [0.1, 1], [0.2, 1], [0.3, 1]], dtype=np.float32)
NAMES = np.array([[1, 0], [0, 1]], dtype=np.float32)


def vectors(extra=0):
    return Embedded(POOL, NAMES, np.array([0, 1]), np.ones((extra, 2), dtype=np.float32))


def test_a_turn_from_the_names_alone():
    session = new_session(make_pool(TEXTS), "card,refund")
    turn = next_turn(session, vectors(), 2)
    assert turn.session.batch == tuple(s.index for s in turn.suggestions)
    assert len(turn.suggestions) == 2
    for s in turn.suggestions:
        assert s.guess == ("card" if POOL[s.index, 0] > POOL[s.index, 1] else "refund")
        assert 0.5 <= s.confidence <= 1
    assert turn.unknown_labels == ()
    assert turn.guesses.names == 2 and turn.guesses.labelled == 0


def test_answers_from_a_file_join_and_are_not_asked_again():
    session = new_session(make_pool(TEXTS), "card,refund")
    session, extra = join_answers(
        session,
        ["card late", "refund now", "money back", "where is my parcel", "x"],
        ["card", "skip", "", "delivery", "none of these"],
        [2, 3, 4, 5, 6],
        "next.csv",
    )
    assert session.answers == {0: "card", 3: "skip"}  # an empty label: not answered yet
    assert session.labels == ("card", "refund", "delivery")  # a label the file used joins
    assert extra == Extra(("where is my parcel",), ("delivery",))
    turn = next_turn(session, vectors(extra=1), 4, extra=extra)
    assert not {0, 3} & set(turn.session.batch)
    assert turn.guesses.labelled == 2  # the card answer and the row from outside the pool


def test_a_label_nothing_teaches_is_named():
    session = new_session(make_pool(TEXTS), "card,refund,w2")
    turn = next_turn(session, vectors(), 2)
    assert turn.unknown_labels == ("w2",)


def test_nothing_left_to_ask():
    session = new_session(make_pool(TEXTS), "card,refund")
    session = session.answer({i: "skip" for i in range(6)})
    with pytest.raises(DataError) as err:
        next_turn(session, vectors(), 2)
    assert str(err.value) == (
        "every text of the pool has an answer (6): nothing left to ask; export the labelled "
        "rows, or add texts to the pool"
    )

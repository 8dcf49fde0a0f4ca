"""A labelling session: answers, labels, saved whole in the workspace, resumed, exported."""

from __future__ import annotations

import pytest

from core.errors import DataError
from core.label.pool import make_pool
from core.label.session import (
    list_sessions,
    load_session,
    new_session,
    save_session,
    session_path,
)

TEXTS = ["where is my card", "refund me", "the app crashes", "card not arrived", "hello"]


def session(labels="card,refund,bug", given=None):
    return new_session(make_pool(TEXTS, labels=given, name="tickets.csv"), labels)


def test_answers_skip_and_none_of_these():
    s = session().asking([0, 1, 2]).answer({0: "card", 1: "skip", 4: "none of these"})
    assert s.batch == (0, 1, 2) and s.open_batch == (2,)  # asked, not answered yet
    assert s.labelled == {0: "card"}
    assert s.counts() == {"card": 1, "refund": 0, "bug": 0}
    s = s.answer({1: "refund"})  # answered again: the new answer
    assert s.labelled == {0: "card", 1: "refund"}


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            {0: "Card"},
            "'Card' is not one of the labels (card, refund, bug), 'skip' or 'none of these'",
        ),
        ({9: "card"}, "text 9 is not in the pool (it has 5 texts)"),
    ],
)
def test_bad_answers(answers, message):
    with pytest.raises(DataError) as err:
        session().answer(answers)
    assert str(err.value) == message


def test_labels_from_the_pool_and_typed():
    given = ["card", "", "bug", "", ""]
    assert session("", given).labels == ("bug", "card")
    assert session("card,other", given).labels == ("card", "other", "bug")
    assert session("", given).labelled == {0: "card", 2: "bug"}
    with pytest.raises(DataError) as err:
        session("", ["card", "", "", "", ""])
    assert str(err.value) == (
        "no labels to choose from: type them (e.g. billing,delivery,other) or give a pool whose "
        "label column already uses at least 2"
    )


def test_a_label_with_answers_cannot_be_dropped():
    s = session().answer({0: "card", 3: "card"})
    assert s.with_labels("card,refund,bug,other").labels == ("card", "refund", "bug", "other")
    assert s.with_labels("card,refund").labels == ("card", "refund")
    with pytest.raises(DataError) as err:
        s.with_labels("refund,bug")
    assert str(err.value) == (
        "label 'card' is the answer for 2 texts: keep it, or answer those texts again first"
    )


def test_saved_whole_loaded_and_resumed(tmp_path):
    s = session().asking([2, 3]).answer({0: "card", 1: "skip"})
    path = save_session(tmp_path, s)
    assert path == session_path(tmp_path, s.id)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    back = load_session(tmp_path, s.id)
    assert back == s
    assert back.answers == {0: "card", 1: "skip"} and back.batch == (2, 3)
    # The same pool and model is the same session: answering more replaces its file.
    save_session(tmp_path, back.answer({2: "bug"}))
    assert [x.labelled for x in list_sessions(tmp_path)] == [{0: "card", 2: "bug"}]
    assert session().id == s.id
    assert new_session(make_pool(TEXTS), "a,b", model="large").id != s.id
    with pytest.raises(DataError) as err:
        load_session(tmp_path, "0123456789abcdef")
    assert str(err.value) == f"no labelling session 0123456789abcdef in {tmp_path}"
    with pytest.raises(DataError) as err:
        load_session(tmp_path, "../../etc/passwd")
    assert str(err.value) == "invalid session id '../../etc/passwd': expected 16 hexadecimal digits"


def test_exported_as_labelled_texts():
    s = session().answer({3: "card", 0: "card", 1: "refund", 2: "skip"})
    data = s.labelled_texts()
    assert data.texts == ("card not arrived", "where is my card", "refund me")
    assert data.labels == ("card", "card", "refund")
    assert data.rows == (4, 1, 2)
    assert data.name == "labelled from tickets.csv"
    with pytest.raises(DataError) as err:
        s.labelled_texts(every_label=True)
    assert str(err.value) == (
        "label 'bug' has no labelled texts yet: label at least one text with each, or remove "
        "the label, before training on these rows"
    )

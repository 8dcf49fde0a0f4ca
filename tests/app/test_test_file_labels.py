"""The Metrics page's test file with labels the run never learnt (AppTest): named before the
Evaluate button, scored with their rows counted as errors or left out by choice, and the result
says which."""

from __future__ import annotations

import pytest

from tests.app.helpers import go, open_app, shown, unescape

pytestmark = pytest.mark.slow

METRICS = "app_pages/metrics.py"
# Two rows of labels the tiny run never learnt (it knows food, sport and tech).
TEST = "a yacht race at dawn,sailing\nfresh bread and butter,food\nthe regatta,sailing\n"
TEST += "she plays the cello,music\n"


def evaluate_button(at, run_id):
    return [b for b in at.button if b.key.startswith(f"evaluate_{run_id}_")]


def test_unseen_labels_are_named_before_the_button_and_scored_as_chosen(run_copy, monkeypatch):
    run_id = run_copy.run_id
    at = go(open_app(run_copy.root, monkeypatch, run=run_id), METRICS)
    at.file_uploader(key=f"test_file_{run_id}").set_value(
        ("sea.csv", TEST.encode(), "text/csv")
    ).run()
    assert not at.exception and not at.error
    [warning] = at.warning
    assert unescape(warning.value) == (
        "2 labels the run never learnt: 'music' (1 row), 'sailing' (2 rows); 3 of the 4 rows. "
        "Choose what to do with them:"
    )
    radio = at.radio(key=f"test_unseen_{run_id}")
    assert radio.value == "count" and radio.options[1].startswith("Leave their rows out")
    assert len(evaluate_button(at, run_id)) == 1  # the choice comes before the button

    # Left out: the one row of a learnt label is scored, the result says what was left out.
    radio.set_value("skip").run()
    evaluate_button(at, run_id)[0].click().run(timeout=180)
    assert not at.exception and not at.error
    [kept] = run_copy.store.get(run_id).tests
    assert kept.n == 1
    text = shown(at)
    assert "evaluated on these rows before" in text
    assert "3 rows of 2 labels the run never learnt ('music', 'sailing') left out" in text

    # Counted: the same file scored again with the other choice, kept beside the first.
    at.radio(key=f"test_unseen_{run_id}").set_value("count").run()
    [button] = evaluate_button(at, run_id)
    button.click().run(timeout=180)
    assert not at.exception and not at.error
    assert sorted(t.n for t in run_copy.store.get(run_id).tests) == [1, 4]
    text = shown(at)
    assert "2 labels the run never learnt ('music', 'sailing'): 3 rows count as errors." in text
    assert "test file of 4 examples" in text


def test_a_file_of_learnt_labels_asks_nothing(run_copy, monkeypatch):
    run_id = run_copy.run_id
    at = go(open_app(run_copy.root, monkeypatch, run=run_id), METRICS)
    test = "the striker scored twice,sport\nfresh bread and butter,food\n"
    at.file_uploader(key=f"test_file_{run_id}").set_value(
        ("fine.csv", test.encode(), "text/csv")
    ).run()
    assert not at.exception and not at.error and not at.warning
    assert not at.radio
    assert len(evaluate_button(at, run_id)) == 1

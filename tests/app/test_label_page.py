"""The Label page (AppTest, the small real model): an unlabelled pool and typed labels, the
model's guesses, a batch answered with one click per text, the next batch, the counts and the
estimate, the session kept in the workspace, the hand-over to Train, and the bad input."""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from core.label.session import SESSIONS_DIR, list_sessions
from tests.app.helpers import go, open_app, shown, unescape
from tests.helpers import SHARED_DATA

LABEL = "app_pages/label.py"
LABELS = "alarm_set, weather_query, play_music, calendar_set, takeaway_order"


def hwu_rows(n_per_label: int = 12) -> list[tuple[str, str]]:
    """hwu64 texts of five labels, with their true labels."""
    rows: list[tuple[str, str]] = []
    wanted = {label.strip(): 0 for label in LABELS.split(",")}
    with open(SHARED_DATA / "hwu64" / "train.csv", encoding="utf-8") as handle:
        for text, label in csv.reader(handle):
            if label in wanted and wanted[label] < n_per_label:
                wanted[label] += 1
                rows.append((text, label))
    return rows


TRUTH = dict(hwu_rows())


def hwu_pool(n_per_label: int = 12, labelled: int = 0) -> bytes:
    """The texts as a CSV file, unlabelled (the first `labelled` rows keep their label)."""
    rows = hwu_rows(n_per_label)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    for i, (text, label) in enumerate(rows):
        writer.writerow([text, label if i < labelled else ""])
    return out.getvalue().encode()


def start(at, raw: bytes, labels: str = LABELS, name: str = "tickets.csv"):
    at.file_uploader(key="label_upload").set_value((name, raw, "text/csv")).run()
    at.text_area(key="label_labels").input(labels).run()
    return at


def answer_batch(at, runs, pick=None):
    """Click one answer for every text in view: its true label (a careful labeller), or `pick`
    of the answers offered."""
    (session,) = list_sessions(runs / SESSIONS_DIR)
    controls = [c for c in at.get("button_group") if str(c.key).startswith("label_answer_")]
    for control in controls:
        index = int(str(control.key).rsplit("_", 1)[1])
        truth = TRUTH[session.pool.texts[index]]
        choice = (pick(control.options) if pick else None) or truth
        control.set_value(choice).run()
    return len(controls)


@pytest.fixture
def page(tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch)
    return go(at, LABEL)


def test_from_typed_labels_to_two_batches_and_train(page, tmp_path):
    at = start(page, hwu_pool())
    assert "60 different texts, none labelled yet" in shown(at)
    assert "The pool is embedded once" in shown(at)
    at.button(key="label_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = shown(at)
    assert "Next to label" in text
    assert "The model learnt from 0 labelled texts, 5 label names" in text
    assert "· guess: " in text
    asked = answer_batch(at, tmp_path / "runs")
    assert asked == 12
    # every click is kept in the workspace at once
    (kept,) = list_sessions(tmp_path / "runs" / SESSIONS_DIR)
    assert len(kept.answers) == 12
    at.button(key="label_next").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "12 labelled · 0 skipped · 0 none of these" in shown(at)
    assert "2 texts of each batch are drawn at random" in shown(at)
    answers = iter(["skip", "none of these"])
    answer_batch(at, tmp_path / "runs", pick=lambda options: next(answers, None))
    at.button(key="label_next").click().run()
    assert "22 labelled · 1 skipped · 1 none of these" in shown(at)
    answer_batch(at, tmp_path / "runs")
    at.button(key="label_next").click().run()
    (kept,) = list_sessions(tmp_path / "runs" / SESSIONS_DIR)
    assert len(kept.audit) == 8  # 2 a batch drawn at random, 4 batches asked
    # the estimate from the 6 texts drawn at random and answered (one of them may be the skip)
    assert "guessed right by a model that never saw them; 95 % interval" in shown(at)
    assert len(kept.history) == 1  # the curve's first point
    # every label with a text? the page says which have none, or hands the rows over
    counts = kept.counts()
    if all(counts.values()):
        at.button(key="label_finetune").click().run()
        assert "12 training" not in shown(at)  # the split holds some out
        assert "labelled from tickets.csv" in shown(at)
    else:
        empty = [label for label, n in counts.items() if not n]
        assert f"{empty[0]!r}" in shown(at)
        at.button(key="label_drop").click().run()
        at.button(key="label_finetune").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Train" in [h.value for h in at.title]


def test_a_restart_resumes_the_session(page, tmp_path, monkeypatch):
    at = start(page, hwu_pool())
    at.button(key="label_start").click().run()
    answer_batch(at, tmp_path / "runs")
    assert at.query_params["label"]  # a refresh of the page finds the session in its link
    again = go(open_app(tmp_path / "runs", monkeypatch), LABEL)  # a new tab, or a restart
    (kept,) = again.selectbox(key="label_resume_choice").options
    assert kept.startswith("tickets.csv · 60 texts · 12 labelled · 5 labels · small · ")
    shutil.rmtree(tmp_path / "runs" / SESSIONS_DIR / "embeddings")  # gone: embedded again
    again.button(key="label_resume").click().run()
    assert not again.exception, [e.value for e in again.exception]
    assert "12 labelled · 0 skipped" in shown(again)
    assert list((tmp_path / "runs" / SESSIONS_DIR / "embeddings").glob("*.npy"))
    assert "Next to label" in shown(again)


def test_labelled_rows_in_the_pool_give_the_labels(page):
    at = start(page, hwu_pool(labelled=20), labels="")
    text = shown(at)
    assert "20 labelled already" in text
    at.button(key="label_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "20 labelled" in shown(at)


@pytest.mark.parametrize(
    ("raw", "labels", "message"),
    [
        (b"text\n", LABELS, "has no texts"),
        (b"text\nonly one\nonly one\n", LABELS, "has one text"),
        (None, "spam, Spam", "labels 'spam' and 'Spam' differ only in case"),
        (None, "spam, ham, spam", "label 'spam' is given twice"),
    ],
)
def test_bad_input_is_said(page, raw, labels, message):
    at = start(page, raw if raw is not None else hwu_pool(), labels=labels)
    assert not at.exception, [e.value for e in at.exception]
    assert message in "\n".join(unescape(e.value) for e in at.error)
    assert not [b for b in at.button if b.key == "label_start"]


def test_repeated_texts_are_asked_once(page):
    raw = hwu_pool() + b"set an alarm for six,\nset an alarm for six,\n"
    at = start(page, raw)
    assert "each text is asked once" in shown(at)


def test_a_pool_of_200000_texts_is_sampled_and_says_so(page):
    raw = "text\n" + "".join(f"ticket {i}: where is order {i * 7}?\n" for i in range(200_000))
    at = start(page, raw.encode())
    assert not at.exception, [e.value for e in at.exception]
    assert "has 200,000 different texts: a random sample of 10,000 (seed 0) is labelled" in shown(
        at
    )
    assert "10,000 different texts" in shown(at)


def test_many_labels_stay_one_click_each(page, tmp_path):
    labels = [f"intent_{word}" for word in LABELS.replace(" ", "").split(",")]
    labels += [f"topic number {i}" for i in range(145)]  # 150 labels
    at = start(page, hwu_pool(), labels=", ".join(labels))
    at.button(key="label_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = [c for c in at.get("button_group") if str(c.key).startswith("label_answer_")]
    assert len(buttons[0].options) == 4 + 2  # the likeliest 4, skip, none of these
    others = [s for s in at.selectbox if str(s.key).startswith("label_other_")]
    assert len(others) == len(buttons) and len(others[0].options) == 146
    others[0].set_value("topic number 7").run()  # the searchable list: one choice
    (kept,) = list_sessions(tmp_path / "runs" / SESSIONS_DIR)
    assert list(kept.answers.values()) == ["topic number 7"]


def test_a_label_with_no_text_at_the_hand_over(page, tmp_path):
    at = start(page, hwu_pool())
    at.button(key="label_start").click().run()
    answer = iter(["alarm_set", "weather_query"] * 6)
    answer_batch(at, tmp_path / "runs", pick=lambda options: next(answer))
    at.button(key="label_next").click().run()
    text = shown(at)
    assert "3 labels have no labelled text yet: 'play_music', 'calendar_set', 'takeaway_order'" in (
        text
    )
    assert not [b for b in at.button if b.key == "label_finetune"]
    at.button(key="label_drop").click().run()
    (kept,) = list_sessions(tmp_path / "runs" / SESSIONS_DIR)
    assert kept.labels == ("alarm_set", "weather_query")
    assert len(kept.labelled) == 12  # no answer lost
    at.button(key="label_finetune").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Train" in [h.value for h in at.title]


def test_label_more_where_a_finished_run_is_unsure(run_copy, monkeypatch):
    record = run_copy.store.get(run_copy.run_id)
    trained = len(run_copy.store.load_dataset(run_copy.run_id).train)
    at = go(open_app(run_copy.root, monkeypatch), LABEL)
    at.selectbox(key="label_model").set_value(run_copy.run_id).run()
    assert at.text_area(key="label_labels").value == ", ".join(record.data.classes)
    texts = "text\nthe pasta was cold\nmy parcel never came\nthe striker scored twice\n"
    at.file_uploader(key="label_upload").set_value(("more.csv", texts.encode(), "text/csv")).run()
    at.button(key="label_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = shown(at)
    assert f"· {run_copy.run_id} · " in text  # the session's model is the run
    # the run's training rows teach the session's model from the first batch
    assert f"The model learnt from {trained} labelled texts" in text

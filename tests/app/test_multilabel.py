"""The app with multi-label data (AppTest): the Data page reads and reviews it, the Train page
finetunes it, the Metrics page and the Playground show the multi-label results."""

from __future__ import annotations

import pytest

from core.runs.jobs import wait
from core.runs.store import RunStore
from tests.app.helpers import go, open_app, shown
from tests.helpers import HOSTILE, csv_bytes, jsonl_bytes, tiny_multilabel_rows

TRAIN_TIMEOUT_S = 240


def test_the_data_page_reads_label_lists_as_multi_label(tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch)
    raw = jsonl_bytes(tiny_multilabel_rows())
    at.file_uploader(key="upload_train").set_value(("topics.jsonl", raw, "application/json"))
    at.run()
    assert not at.exception and not at.error
    assert at.checkbox(key="train_multi_label").value is True  # lists: ticked from the start
    assert "This file looks multi-label: 24 of 24 rows give their labels as a list." in shown(at)
    assert "topics.jsonl · 24 rows · 3 labels" in shown(at)
    at.button(key="review_data").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Labels per row (mean / max)"] == "1.25 / 2"
    assert metrics["Rows with 2+ labels"] == "6"
    at.button(key="use_data").click().run()
    data = at.session_state["dataset"].data  # the rows before the split (TrainingData)
    assert data.train.multi_label and data.classes == ("food", "sport", "tech")


def test_joined_labels_are_read_as_one_label_until_the_user_says_otherwise(tmp_path, monkeypatch):
    rows = [(t, "|".join(labels)) for t, labels in tiny_multilabel_rows()]
    rows.append((HOSTILE, '"R|B"|food'))  # a label that contains the separator, quoted
    at = open_app(tmp_path / "runs", monkeypatch)
    at.file_uploader(key="upload_train").set_value(("topics.csv", csv_bytes(rows), "text/csv"))
    at.run()
    assert at.checkbox(key="train_multi_label").value is False
    assert "label cells contain '|'" in shown(at)
    assert "topics.csv · 25 rows · 7 labels" in shown(at)  # each combination a label
    at.checkbox(key="train_multi_label").check().run()
    assert not at.exception and not at.error
    assert at.text_input(key="train_separator").value == "|"
    assert "topics.csv · 25 rows · 4 labels" in shown(at)
    at.button(key="review_data").click().run()
    assert not at.exception and not at.error
    at.button(key="use_data").click().run()
    data = at.session_state["dataset"].data
    assert ("R|B", "food") in (data.train.label_sets or ())


@pytest.mark.slow
def test_macro_f1_stands_beside_micro_f1_on_metrics_and_the_dashboard(
    multilabel_run, tmp_path, monkeypatch
):
    run_id = multilabel_run.run_id
    final = multilabel_run.store.get(run_id).final
    at = go(open_app(multilabel_run.root, monkeypatch, run=run_id), "app_pages/metrics.py")
    assert not at.exception and not at.error
    tiles = {m.label: m.value for m in at.metric}
    assert list(tiles)[1:3] == ["Micro-F1", "Macro-F1"]
    assert tiles["Macro-F1"] == f"{final.metrics.macro_f1:.3f}"
    go(at, "app_pages/dashboard.py")
    row = at.dataframe[0].value.set_index("id").loc[run_id]
    assert row["best F1"] == f"{final.metrics.f1:.3f} · macro {final.metrics.macro_f1:.3f}"


@pytest.mark.slow
def test_a_multi_label_finetune_through_the_app(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    at = open_app(runs, monkeypatch)
    raw = jsonl_bytes(tiny_multilabel_rows(8))
    at.file_uploader(key="upload_train").set_value(("topics.jsonl", raw, "application/json"))
    at.run()
    at.button(key="review_data").click().run()
    at.button(key="use_data").click().run()
    go(at, "app_pages/train.py")
    at.number_input(key="cfg_epochs").set_value(1).run()
    at.button(key="start_training").click().run()
    assert not at.exception and not at.error
    run_id = at.session_state["run_id"]
    record = wait(RunStore(runs), run_id, timeout_s=TRAIN_TIMEOUT_S)
    assert record.status == "completed", record.error
    assert record.final is not None and record.final.metrics.average == "micro"

    go(at, "app_pages/metrics.py")
    assert not at.exception and not at.error
    titles = [m.label for m in at.metric]
    assert titles[:5] == [
        "Hamming accuracy",
        "Micro-F1",
        "Macro-F1",
        "Micro precision",
        "Micro recall",
    ]
    assert "subset accuracy" in shown(at)

    go(at, "app_pages/playground.py")
    at.session_state["playground_tab"] = "Classify"
    at.run()
    at.text_area(key="classify_text").set_value("the soup was too salty and she scored twice")
    at.button(key="classify").click().run()
    assert not at.exception and not at.error
    (result,) = at.session_state["classify_results"][1]
    body = at.session_state["classify_results"][2]
    assert body["classifications"][0]["classification_type"] == "multi-label"
    assert body["classifications"][0]["predictions"] == result["predictions"]
    if result["predictions"]:
        chips = at.get("button_group")
        assert chips, "no label chips"
    else:
        assert "No label is above its threshold." in shown(at)

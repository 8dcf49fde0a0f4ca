"""The Data page's "Check labels" flow through AppTest: flag, relabel, use; nothing unasked."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP
from tests.helpers import csv_bytes, planted

TIMEOUT = 90  # first model load in a fresh process


def checked_page(tmp_path, monkeypatch) -> tuple[AppTest, bytes]:
    """The Data page with the planted file uploaded, reviewed and its labels checked."""
    monkeypatch.setenv("EMBEDTUNE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EMBEDTUNE_CACHE_DIR", str(tmp_path / "cache"))
    data, _ = planted()
    raw = csv_bytes(list(zip(data.texts, data.labels, strict=True)))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/data.py").run()
    at.file_uploader(key="upload_train").set_value(("planted.csv", raw, "text/csv"))
    at.run()
    at.button(key="review_data").click().run()
    at.button(key="check_labels").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at, raw


def registered(at: AppTest) -> dict[int, str]:
    data = at.session_state["dataset"].data
    return {
        row: label
        for part in (data.train, data.valid or data.train.subset([]))
        for row, label in zip(part.rows, part.labels, strict=True)
    }


def test_flag_relabel_and_use(tmp_path, monkeypatch):
    at, raw = checked_page(tmp_path, monkeypatch)
    data, wrong = planted()
    editor = at.data_editor[0].value
    flagged = dict(zip(editor["row"], editor["suggested label"], strict=True))
    assert {row: flagged[row] for row in wrong} == wrong
    assert set(editor["choice"]) == {"keep"}  # nothing chosen for the user

    at.number_input(key="label_threshold").set_value(0.0).run()
    at.button(key="relabel_above").click().run()
    editor = at.data_editor[0].value
    assert set(editor["choice"]) == {"relabel"}
    at.button(key="use_data").click().run()
    assert not at.exception, [e.value for e in at.exception]

    labels = registered(at)
    assert {row: labels[row] for row in wrong} == wrong  # relabelled to the suggestion
    unflagged = set(data.rows) - set(flagged)
    assert all(labels[row] == data.labels[row - 1] for row in unflagged)
    assert "label check:" in at.session_state["dataset"].data.train.name
    assert at.session_state["dataset"].label_choices == {row: "relabel" for row in flagged}
    assert at.session_state["data_files"]["train"][1] == raw  # the upload is not modified


def test_without_choices_no_row_changes(tmp_path, monkeypatch):
    at, _ = checked_page(tmp_path, monkeypatch)
    data, _ = planted()
    at.button(key="use_data").click().run()
    labels = registered(at)
    assert labels == dict(zip(data.rows, data.labels, strict=True))
    assert at.session_state["dataset"].label_choices == {}

"""Bad input and broken state in the app: malformed uploads, oversized files, broken run
folders, no room for a run, run ids in the URL that could escape, other visitors' runs: each is
one clear st.error (or is ignored), never a traceback."""

from __future__ import annotations

import re

import pytest
from streamlit import config as st_config

from core.config import TrainConfig
from core.data.files import read_labeled
from core.data.labeled import LabeledTexts, split
from core.errors import DataError
from core.io import encoding_warning
from core.runs.sharing import workspace_store
from core.runs.store import RUN_FILE, RunStore
from tests.app.helpers import go, open_app, shown, unescape
from tests.helpers import GOOD, MALFORMED, UTF16, completed_without_model, no_room, tiny_pairs


def core_message(raw: bytes, **options) -> str:
    with pytest.raises(DataError) as caught:
        read_labeled(raw, name="bad.csv", **options)
    return str(caught.value)


def test_every_malformed_file_shows_st_error_on_the_data_page(tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch)
    uploader = "upload_train"
    for kind, raw in MALFORMED.items():
        at.file_uploader(key=uploader).set_value(("bad.csv", raw, "text/csv")).run()
        assert not at.exception, kind
        assert "review_data" not in [b.key for b in at.button], kind
        if kind == "undeclared header":  # a button instead (tests/app/test_data_files.py)
            assert not at.error and "train_use_header" in [b.key for b in at.button]
            continue
        assert [unescape(e.value) for e in at.error] == [core_message(raw)], kind
    # UTF-16 with a BOM is read: a preview, no error, and a warning that says so.
    at.file_uploader(key=uploader).set_value(("utf16.csv", UTF16, "text/csv")).run()
    assert not at.exception and not at.error
    assert "utf16.csv · 6 rows · 2 labels" in shown(at)
    assert [unescape(w.value) for w in at.warning] == [encoding_warning(UTF16, "utf16.csv")]
    at.file_uploader(key=uploader).set_value(("utf8.csv", GOOD, "text/csv")).run()
    assert not at.warning


def test_utf16_uploads_in_the_playground_are_read_with_a_warning(tmp_path, monkeypatch):
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    at.segmented_control(key="embed_source").set_value("Upload a file").run()
    at.file_uploader(key="embed_upload").set_value(("texts.csv", UTF16, "text/csv")).run()
    assert not at.exception and not at.error
    assert [unescape(w.value) for w in at.warning] == [encoding_warning(UTF16, "texts.csv")]
    assert "6 vectors of 384 dimensions" in shown(at)


def test_a_file_over_the_servers_upload_limit_shows_st_error(tmp_path, monkeypatch):
    before = st_config.get_option("server.maxUploadSize")
    st_config.set_option("server.maxUploadSize", 1)  # MB
    try:
        at = open_app(tmp_path / "runs", monkeypatch)
        raw = GOOD * (2**20 // len(GOOD) + 1)  # just over 1 MB
        at.file_uploader(key="upload_train").set_value(("big.csv", raw, "text/csv")).run()
        assert not at.exception
        assert [unescape(e.value) for e in at.error] == [core_message(raw, max_bytes=2**20)]
    finally:
        st_config.set_option("server.maxUploadSize", before)


@pytest.mark.parametrize(
    "page", ["app_pages/dashboard.py", "app_pages/metrics.py", "app_pages/playground.py"]
)
def test_pages_survive_corrupted_run_directories(page, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    lost = completed_without_model(store)
    (runs / "ft-garbled000000").mkdir()
    (runs / "ft-garbled000000" / RUN_FILE).write_text('{"format_version": 1, "id": ')
    (runs / "ft-nojson0000000").mkdir()
    for run_id in (lost, "ft-garbled000000"):
        at = go(open_app(runs, monkeypatch, run=run_id), page)
        assert not at.exception


def test_the_dashboard_lists_broken_runs_with_the_reason_and_deletes_them(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    lost = completed_without_model(store)
    (runs / "ft-garbled000000").mkdir()
    (runs / "ft-garbled000000" / RUN_FILE).write_text("{not json")
    at = go(open_app(runs, monkeypatch), "app_pages/dashboard.py")
    assert set(at.dataframe[0].value["status"]) == {"broken"}
    for run_id in (lost, "ft-garbled000000"):
        at.selectbox(key="dashboard_run").select(run_id).run()
        assert f"Run `{run_id}` cannot be read: run {run_id} is broken" in shown(at)
        at.button(key="delete_run").click().run()
        at.button(key="confirm_delete").click().run()
        assert not at.exception and not store.path(run_id).exists()
    assert "No finetunes yet" in shown(at)


@pytest.mark.parametrize("problem", ["unwritable", "full"])
def test_no_room_for_a_run_shows_st_error_on_the_train_page(tmp_path, monkeypatch, problem):
    runs, message = no_room(tmp_path, problem, monkeypatch)
    at = open_app(runs, monkeypatch)
    at.file_uploader(key="upload_train").set_value(("train.csv", GOOD, "text/csv")).run()
    at.button(key="review_data").click().run()
    at.button(key="use_data").click().run()
    go(at, "app_pages/train.py")
    at.button(key="start_training").click().run()
    assert not at.exception
    [error] = [unescape(e.value) for e in at.error]
    assert error.startswith(message), error
    assert "run_id" not in at.session_state


@pytest.mark.parametrize("bad", ["../../etc", "/etc/passwd", "ft-x/../../etc"])
@pytest.mark.parametrize("page", ["app_pages/metrics.py", "app_pages/playground.py"])
def test_a_run_id_in_the_url_that_could_escape_is_ignored(tmp_path, monkeypatch, page, bad):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / RUN_FILE).write_text("{}")  # what ../../etc would reach from runs/x
    at = go(open_app(tmp_path / "runs" / "x", monkeypatch, run=bad), page)
    assert not at.exception and not at.error
    assert "run_id" not in at.session_state and bad not in shown(at)


def test_shared_demo_visitors_never_see_each_others_runs(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("EMBEDTUNE_SHARED_DEMO", "1")
    alice = open_app(runs, monkeypatch)
    bob = open_app(runs, monkeypatch)
    alice_ws, bob_ws = alice.session_state["workspace"], bob.session_state["workspace"]
    assert alice_ws != bob_ws and re.fullmatch(r"ws-[0-9a-f]{16}", alice_ws)
    assert alice.query_params["ws"] == [alice_ws] or alice.query_params["ws"] == alice_ws
    store = workspace_store(RunStore(runs), alice_ws)
    dataset = split(LabeledTexts.from_pairs(tiny_pairs(6), name="alice.csv"), seed=0)
    record, _ = store.create(TrainConfig(epochs=1), dataset)
    store.update(record.id, status="failed", error={"reason": "test", "log_tail": []})

    go(alice, "app_pages/dashboard.py")
    assert list(alice.dataframe[0].value["run"]) == [record.id]
    go(bob, "app_pages/dashboard.py")
    assert "No finetunes yet" in shown(bob) and record.id not in shown(bob)
    # Bob cannot open Alice's run by its id either: it is not in his workspace.
    bob_by_url = open_app(runs, monkeypatch, run=record.id, ws=bob_ws)
    go(bob_by_url, "app_pages/metrics.py")
    assert record.id not in shown(bob_by_url)
    # A refreshed browser keeps its workspace through the URL; a forged one is replaced.
    again = open_app(runs, monkeypatch, ws=alice_ws)
    assert again.session_state["workspace"] == alice_ws
    forged = open_app(runs, monkeypatch, ws="../" + alice_ws)
    assert forged.session_state["workspace"] not in (alice_ws, "../" + alice_ws)
    # The shared runs folder itself lists no visitor's runs (local mode sees none of them).
    assert RunStore(runs).list() == []

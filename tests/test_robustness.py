"""Robustness and security: malformed files at every edge, broken runs in the app, concurrent
starts, shared-demo workspaces and caps, and no unsafe loading anywhere in the source."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from streamlit import config as st_config

import core.runs.store as core_runs
from core.cli import main
from core.config import TrainConfig
from core.data.labeled import LabeledTexts, read_labeled_csv, split
from core.errors import DataError, LimitError, RunError
from core.io import encoding_warning
from core.runs.jobs import submit, wait
from core.runs.resolve import load_run
from core.runs.sharing import DemoSettings, check_submission, workspace_store
from core.runs.store import RUN_FILE, BrokenRun, RunStore
from tests.engine_data import tiny_config, tiny_dataset
from tests.test_app import go, open_app, shown, unescape
from tests.tiny_data import csv_bytes, tiny_pairs

ROOT = Path(__file__).resolve().parent.parent
GOOD = csv_bytes(tiny_pairs(3))


def xlsx_bytes() -> bytes:
    """A minimal real .xlsx (a ZIP of XML parts), as Excel saves one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        book.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet><c t='s'><v>0</v></c></worksheet>")
    return buffer.getvalue()


# Each malformed file as a user might upload it; the message is tested in test_data.py, here
# the CLI and the app must show exactly that message, once, without a traceback.
MALFORMED = {
    "empty": b"",
    "blank lines only": b"\n  \n\r\n\n",
    "one column": b"good film\nbad film\n",
    "three columns": b"good,film,pos\nbad,film,neg\n",
    "single label": b"good film,pos\ngreat film,pos\n",
    "all labels empty": b"good film,\nbad film,\n",
    "binary renamed .csv": bytes(range(256)) * 4,
    "xlsx renamed .csv": xlsx_bytes(),
    "latin-1": "caf\u00e9,pos\nth\u00e9,neg\n".encode("latin-1"),
    "unclosed quote": b'ok,pos\n"never closed,neg\nmore,pos\n',
    "undeclared header": b"text,label\ngood,pos\nbad,neg\n",
}


def core_message(raw: bytes, **options) -> str:
    with pytest.raises(DataError) as caught:
        read_labeled_csv(raw, name="bad.csv", **options)
    return str(caught.value)


def test_every_malformed_file_is_one_error_line_and_exit_2_on_the_command_line(tmp_path, capsys):
    for kind, raw in MALFORMED.items():
        path = tmp_path / "bad.csv"
        path.write_bytes(raw)
        code = main(["review", str(path), "--runs-dir", str(tmp_path / "runs")])
        out, err = capsys.readouterr()
        assert code == 2, kind
        assert err == f"error: {core_message(raw)}\n", kind
        assert "Traceback" not in out + err


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path, capsys):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.truncate(201 * 2**20)  # sparse: 201 MB long, nothing written
    code = main(["review", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: the file is 201.0 MB, over the 200 MB limit")


# UTF-16 with a byte-order mark is the one other encoding that can be told apart safely, so it
# is read, with a warning (the message is tested in test_data.py). Latin-1 cannot be told from
# Windows-1252 or other 8-bit encodings, so it stays an error (in MALFORMED above).
UTF16 = GOOD.decode("utf-8").encode("utf-16")


def test_utf16_is_read_with_a_warning_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "unicode.csv"
    path.write_bytes(UTF16)
    for command in (
        ["review", str(path)],
        ["review", str(tmp_path / "ok.csv"), "--valid", str(path)],
        ["embed", "small", "--file", str(path)],
        ["embed", "small", "--file", str(path), "--out", str(tmp_path / "vectors.parquet")],
    ):
        (tmp_path / "ok.csv").write_bytes(GOOD)
        code = main([*command, "--runs-dir", str(tmp_path / "runs")])
        out, err = capsys.readouterr()
        assert code == 0
        # First on stderr, before anything is computed (--out adds a progress bar after it).
        assert err.splitlines()[0] == f"warning: {encoding_warning(UTF16, 'unicode.csv')}"
        assert "unicode.csv is UTF-16" not in out
    main(["review", str(tmp_path / "ok.csv"), "--runs-dir", str(tmp_path / "runs")])
    assert capsys.readouterr().err == ""  # UTF-8: no warning


def test_every_malformed_file_shows_st_error_on_the_data_page(tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch)
    uploader = "upload_train"
    for kind, raw in MALFORMED.items():
        at.file_uploader(key=uploader).set_value(("bad.csv", raw, "text/csv")).run()
        assert not at.exception, kind
        assert [unescape(e.value) for e in at.error] == [core_message(raw)], kind
        assert "review_data" not in [b.key for b in at.button], kind
    # UTF-16 with a BOM is read: a preview, no error, and a warning that says so.
    at.file_uploader(key=uploader).set_value(("utf16.csv", UTF16, "text/csv")).run()
    assert not at.exception and not at.error
    assert "utf16.csv · 6 rows · 2 labels" in shown(at)
    assert [unescape(w.value) for w in at.warning] == [encoding_warning(UTF16, "utf16.csv")]
    at.file_uploader(key=uploader).set_value(("utf8.csv", GOOD, "text/csv")).run()
    assert not at.warning


def test_utf16_uploads_in_the_playground_are_read_with_a_warning(tmp_path, monkeypatch):
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    at.segmented_control(key="embed_source").set_value("Upload a CSV").run()
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


# ----------------------------------------------------------------------------- broken runs


def _completed_without_model(store: RunStore) -> str:
    """A run recorded as completed whose model folder was deleted by hand."""
    dataset = split(LabeledTexts.from_pairs(tiny_pairs(6), name="tiny.csv"), seed=0)
    record, _ = store.create(TrainConfig(epochs=1), dataset)
    store.update(record.id, status="completed")
    return record.id


def test_a_completed_run_without_its_model_is_broken_not_served(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = _completed_without_model(store)
    [listed] = store.list()
    assert isinstance(listed, BrokenRun)
    assert listed.reason == f"run {run_id} is broken: it completed but its model folder is gone"
    with pytest.raises(RunError, match="^no model folder in .*: the run has no finished model$"):
        load_run(run_id, store)
    # Submitting the same finetune again replaces it instead of reusing a run with no model.
    record = store.get(run_id)
    again, created = store.create(record.config, store.load_dataset(run_id))
    assert created and again.status == "queued"


@pytest.mark.parametrize(
    "page", ["app_pages/dashboard.py", "app_pages/metrics.py", "app_pages/playground.py"]
)
def test_pages_survive_corrupted_run_directories(page, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    lost = _completed_without_model(store)
    (runs / "ft-garbled000000").mkdir()
    (runs / "ft-garbled000000" / RUN_FILE).write_text('{"format_version": 1, "id": ')
    (runs / "ft-nojson0000000").mkdir()
    for run_id in (lost, "ft-garbled000000"):
        at = go(open_app(runs, monkeypatch, run=run_id), page)
        assert not at.exception


def test_the_dashboard_lists_broken_runs_with_the_reason_and_deletes_them(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    lost = _completed_without_model(store)
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


# ----------------------------------------------------------------------------- no room for a run


def _no_room(tmp_path: Path, problem: str, monkeypatch) -> tuple[Path, str]:
    """A runs folder that cannot take a run, and how its error message starts."""
    if problem == "unwritable":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        runs = blocker / "runs"
        return runs, f"cannot write to the runs folder {runs}: "
    runs = tmp_path / "runs"
    monkeypatch.setattr(core_runs, "MIN_FREE_BYTES", 10**18)  # no disk is that big: "full"
    return runs, f"not enough free disk space in {runs}: "


@pytest.mark.parametrize("problem", ["unwritable", "full"])
def test_no_room_for_a_run_is_one_error_line_on_the_command_line(
    tmp_path, monkeypatch, capsys, problem
):
    runs, message = _no_room(tmp_path, problem, monkeypatch)
    data = tmp_path / "train.csv"
    data.write_bytes(GOOD)
    code = main(["train", str(data), "--epochs", "1", "--runs-dir", str(runs)])
    out, err = capsys.readouterr()
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"error: {message}"), line
    assert "Traceback" not in out + err
    assert RunStore(runs).list() == []  # no run was created


@pytest.mark.parametrize("problem", ["unwritable", "full"])
def test_no_room_for_a_run_shows_st_error_on_the_train_page(tmp_path, monkeypatch, problem):
    runs, message = _no_room(tmp_path, problem, monkeypatch)
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


# ----------------------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_two_sessions_starting_the_same_finetune_at_once_create_one_run(tmp_path):
    root = tmp_path / "runs"
    sessions = 6
    barrier = threading.Barrier(sessions)
    results, errors = [], []

    def start() -> None:
        try:
            barrier.wait()
            results.append(submit(tiny_config(), tiny_dataset(), RunStore(root)))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len({s.record.id for s in results}) == 1
    assert sorted(s.reused for s in results) == [False] + [True] * (sessions - 1)
    store = RunStore(root)
    assert [r.id for r in store.list()] == [results[0].record.id]
    store.request_cancel(results[0].record.id)  # the test needs no training
    assert wait(store, results[0].record.id, timeout_s=120).status == "cancelled"


_START_AT = """
import sys, time
from core.runs.jobs import submit
from core.runs.store import RunStore
from tests.engine_data import tiny_config, tiny_dataset
config, dataset, store = tiny_config(seed=7), tiny_dataset(), RunStore(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all processes start together
submission = submit(config, dataset, store)
print(submission.record.id, submission.reused)
"""


@pytest.mark.slow
def test_separate_processes_starting_the_same_finetune_at_once_create_one_run(tmp_path):
    # As two app servers (or an app and the CLI) sharing one runs folder would.
    root = tmp_path / "runs"
    start_at = f"{time.time() + 8:.3f}"  # after every process has imported what it needs
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _START_AT, str(root), start_at],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        run_id, reused = out.split()
        results.append((run_id, reused == "True"))
    assert len({run_id for run_id, _ in results}) == 1
    assert sorted(reused for _, reused in results) == [False, True, True]
    store = RunStore(root)
    [listed] = store.list()
    assert listed.id == results[0][0]
    store.request_cancel(listed.id)  # the test needs no training
    assert wait(store, listed.id, timeout_s=120).status in ("cancelled", "completed")


# ----------------------------------------------------------------------------- shared demo


def test_shared_demo_settings_come_from_the_environment():
    assert not DemoSettings.from_env({}).shared
    assert DemoSettings.from_env({}).train_time_limit_s is None
    demo = DemoSettings.from_env(
        {"EMBEDTUNE_SHARED_DEMO": "1", "EMBEDTUNE_DEMO_MAX_ROWS": "10"}
        | {"EMBEDTUNE_DEMO_MAX_TRAIN_S": "60", "EMBEDTUNE_DEMO_MAX_JOBS": "2"}
    )
    assert (demo.shared, demo.max_rows, demo.train_time_limit_s, demo.max_jobs) == (
        True,
        10,
        60.0,
        2,
    )


@pytest.mark.parametrize("bad", ["../other", "/tmp/x", "a/b", "..", "WS"])
def test_workspace_ids_that_could_escape_are_refused(tmp_path, bad):
    with pytest.raises(RunError, match="^invalid run id"):
        workspace_store(RunStore(tmp_path), bad)


def test_shared_demo_caps_rows_and_concurrent_finetunes_per_visitor(tmp_path):
    demo = DemoSettings(shared=True, max_rows=10, max_jobs=1)
    store = workspace_store(RunStore(tmp_path / "runs"), "ws-0123456789abcdef")
    big = split(LabeledTexts.from_pairs(tiny_pairs(6)), seed=0)
    with pytest.raises(LimitError, match="^12 rows: this shared demo trains on at most 10 rows"):
        check_submission(demo, store, TrainConfig(), big)
    check_submission(DemoSettings(), store, TrainConfig(), big)  # local mode: no caps
    small = split(LabeledTexts.from_pairs(tiny_pairs(4)), seed=0)
    check_submission(demo, store, TrainConfig(), small)
    store.create(TrainConfig(), small)  # queued: this visitor's one finetune
    check_submission(demo, store, TrainConfig(), small)  # the same again is reused, allowed
    with pytest.raises(LimitError, match="^you already have 1 finetune"):
        check_submission(demo, store, TrainConfig(seed=1), small)
    other = workspace_store(RunStore(tmp_path / "runs"), "ws-fedcba9876543210")
    check_submission(demo, other, TrainConfig(seed=1), small)  # another visitor is not blocked
    assert store.lock_root == other.lock_root == tmp_path / "runs"  # one device queue for all


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


@pytest.mark.parametrize("bad", ["../../etc", "/etc/passwd", "ft-x/../../etc"])
@pytest.mark.parametrize("page", ["app_pages/metrics.py", "app_pages/playground.py"])
def test_a_run_id_in_the_url_that_could_escape_is_ignored(tmp_path, monkeypatch, page, bad):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / RUN_FILE).write_text("{}")  # what ../../etc would reach from runs/x
    at = go(open_app(tmp_path / "runs" / "x", monkeypatch, run=bad), page)
    assert not at.exception and not at.error
    assert "run_id" not in at.session_state and bad not in shown(at)


# ----------------------------------------------------------------------------- source checks


def test_the_server_configuration_defaults_to_the_safe_one():
    import tomllib

    from core.data.labeled import MAX_FILE_BYTES

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    server = config["server"]
    assert server["address"] == "127.0.0.1"  # localhost only unless told otherwise
    assert server["enableXsrfProtection"] is True
    assert server["maxUploadSize"] * 2**20 == MAX_FILE_BYTES
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"  # no tracebacks in the browser
    assert "enableCORS" not in server  # Streamlit's default: CORS protection on
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Sharing a demo" in readme and "**Authentication in front**" in readme


UNSAFE = {
    "pickle.load": re.compile(r"\bpickle\.loads?\("),
    "joblib.load": re.compile(r"\bjoblib\.load\("),
    "torch.load": re.compile(r"\btorch\.load\("),
    "trust_remote_code=True": re.compile(r"trust_remote_code\s*=\s*True"),
    "unsafe_allow_html=True": re.compile(r"unsafe_allow_html\s*=\s*True"),
}


def test_no_pickle_loading_remote_code_or_raw_html_in_the_product():
    files = [ROOT / "app.py"]
    for folder in ("core", "ui", "app_pages"):
        files += sorted((ROOT / folder).rglob("*.py"))
    assert len(files) > 20
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name, pattern in UNSAFE.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []

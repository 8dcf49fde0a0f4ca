"""One file, one seed, one split and one run: the app, the command line and Python agree; the
registered data set survives a refresh, a new tab and a restart (it is kept in the workspace)."""

from __future__ import annotations

import core
from core.cli.parser import build_parser
from core.cli.runs import config_from_args, training_set
from core.config import TrainConfig
from core.model.classifier import MODEL_DIR
from core.runs.store import RunStore, compute_run_id
from tests.app.helpers import go, open_app, shown
from tests.helpers import csv_bytes, tiny_pairs


def use_file(at, name: str, raw: bytes):
    at.file_uploader(key="upload_train").set_value((name, raw, "text/csv")).run()
    at.button(key="review_data").click().run()
    at.button(key="use_data").click().run()
    assert not at.exception and not at.error
    return at


def cli_run_id(path, *flags: str) -> str:
    args = build_parser().parse_args(["train", str(path), *flags])
    config = config_from_args(args)
    return compute_run_id(config, training_set(args, config))


def test_the_app_the_cli_and_python_split_one_file_the_same_way(tmp_path, monkeypatch):
    raw = csv_bytes(tiny_pairs(12))
    path = tmp_path / "reviews.csv"
    path.write_bytes(raw)
    runs = tmp_path / "runs"
    store = RunStore(runs)

    # Python: the default seed is the run's seed, and it makes the split.
    dataset = core.prepare_dataset(core.read_labeled(path))
    python_id = compute_run_id(TrainConfig(), dataset)
    assert cli_run_id(path) == python_id
    assert cli_run_id(path, "--seed", "7") != python_id  # another seed: another split and run
    other = core.prepare_dataset(core.read_labeled(path), seed=7)
    assert other.valid.rows != dataset.valid.rows

    # A finished run of the CLI's data and settings (marked done without training, to keep the
    # test fast): the app's Start with the same file and defaults reuses it.
    record, _ = store.create(TrainConfig(), dataset)
    store.update(record.id, status="completed")
    (store.path(record.id) / MODEL_DIR).mkdir()
    at = use_file(open_app(runs, monkeypatch), "reviews.csv", raw)
    go(at, "app_pages/train.py")
    at.button(key="start_training").click().run()
    assert not at.exception and not at.error
    assert f"Reused completed run {python_id}" in shown(at)

    # The seed setting of the Train page changes the split, as --seed does.
    at.number_input(key="cfg_seed").set_value(7).run()
    at.button(key="start_training").click().run()
    started = at.session_state["run_id"]
    assert started == cli_run_id(path, "--seed", "7") != python_id
    store.request_cancel(started)


def test_the_data_set_survives_a_refresh_a_new_tab_and_a_restart(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    at = use_file(open_app(runs, monkeypatch), "reviews.csv", csv_bytes(tiny_pairs(12)))
    key = at.query_params["data"]
    key = key[0] if isinstance(key, list) else key
    assert "saved in the workspace" in shown(at)

    # A refresh or a new tab of the same link (a new session, the URL's key), also after the
    # app restarted (nothing but the workspace on disk).
    again = open_app(runs, monkeypatch, data=key)
    # 24 rows at 20 %: 5 held out (4.8 rounded), split by label.
    assert "19 training, 5 validation examples · 2 labels" in shown(again)
    assert "Data set in use:" in shown(again)
    go(again, "app_pages/train.py")
    assert "19 training and 5 validation examples" in shown(again)
    assert again.button(key="start_training")  # ready to train without uploading again

    # A key that names nothing (or is not a key) is dropped: no data set, no error.
    for bad in ("0123456789abcdef", "../../etc/passwd"):
        lost = open_app(runs, monkeypatch, data=bad)
        assert not lost.exception and not lost.error
        assert "None yet: load one on the Data page." in shown(lost)


def test_the_sidebar_says_when_the_active_run_was_trained_on_other_data(tmp_path, monkeypatch):
    from core.data.labeled import LabeledTexts, split
    from tests.helpers import tiny_dataset

    runs = tmp_path / "runs"
    at = use_file(open_app(runs, monkeypatch), "reviews.csv", csv_bytes(tiny_pairs(12)))
    key = at.query_params["data"]
    key = key[0] if isinstance(key, list) else key
    store = RunStore(runs)
    other, _ = store.create(TrainConfig(), tiny_dataset())
    same, _ = store.create(TrainConfig(), split(LabeledTexts.from_pairs(tiny_pairs(12)), seed=3))
    # The sidebar keeps the active run (Metrics and Playground use it) but says whose data it is.
    assert "Trained on other data" in shown(open_app(runs, monkeypatch, data=key, run=other.id))
    assert "Trained on other data" not in shown(open_app(runs, monkeypatch, data=key, run=same.id))

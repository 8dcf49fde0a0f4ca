"""The Streamlit app through AppTest: every page, data upload, training, metrics, playground."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from core.config import TrainConfig
from core.data.labeled import LabeledTexts, split
from core.runs.jobs import wait
from core.runs.store import RUN_FILE, RunStore
from tests.app.helpers import go, open_app, shown, unescape
from tests.helpers import HOSTILE, csv_bytes, tiny_dataset, tiny_pairs

PAGES = [
    "app_pages/data.py",
    "app_pages/label.py",
    "app_pages/train.py",
    "app_pages/dashboard.py",
    "app_pages/metrics.py",
]
PAGES += ["app_pages/playground.py"]
TITLES = dict(
    zip(PAGES, ["Data", "Label", "Train", "Dashboard", "Metrics", "Playground"], strict=True)
)
TRAIN_TIMEOUT_S = 240


@pytest.fixture(scope="session")
def seeded(completed_run, tmp_path_factory) -> tuple[Path, str]:
    """A runs folder with the session's completed run, a failed run and a broken one."""
    import shutil

    root = tmp_path_factory.mktemp("seeded") / "runs"
    root.mkdir()
    shutil.copytree(completed_run.root / completed_run.run_id, root / completed_run.run_id)
    store = RunStore(root)
    failed, _ = store.create(TrainConfig(epochs=1, seed=7), tiny_dataset())
    store.update(
        failed.id,
        status="failed",
        error={"reason": "out of memory in the finetune phase", "log_tail": ["line one", HOSTILE]},
    )
    broken = root / "ft-broken000000"
    broken.mkdir()
    (broken / RUN_FILE).write_text("{not json", encoding="utf-8")
    return root, completed_run.run_id


# ----------------------------------------------------------------------------- every page


@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_an_empty_store(page, tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch)
    # AppTest drops the sidebar of st.navigation apps after the first run: check it first.
    assert "None yet: start one on the Train page." in shown(at)
    go(at, page)
    assert at.title[0].value == TITLES[page]
    assert not at.error


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_a_seeded_store(page, seeded, monkeypatch):
    root, run_id = seeded
    at = open_app(root, monkeypatch, run=run_id)
    assert f"`{run_id}` :green-badge[:material/check_circle: completed]" in shown(at)  # sidebar
    go(at, page)
    assert at.title[0].value == TITLES[page]
    assert at.session_state["run_id"] == run_id


# ----------------------------------------------------------------------------- data page


def test_data_page_with_a_good_file_reviews_and_registers_it(tmp_path, monkeypatch):
    pairs = tiny_pairs(12) + [(HOSTILE, "positive"), (HOSTILE, "negative")]
    at = open_app(tmp_path / "runs", monkeypatch)
    at.file_uploader(key="upload_train").set_value(("tiny.csv", csv_bytes(pairs), "text/csv"))
    at.run()
    assert not at.exception and not at.error
    assert "tiny.csv · 26 rows · 2 labels" in shown(at)
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["row", "text", "label"] and len(preview) == 26

    at.button(key="review_data").click().run()
    assert not at.exception and not at.error
    text = shown(at)
    assert f"'{HOSTILE}' is 'negative' and 'positive' (rows 25, 26)" in text
    # 26 rows at 20 %: 5 held out; 2 or 3 validation rows per label, and the review says so.
    assert at.metric[1].label == "Validation examples (held out, 19%)"
    assert at.metric[1].value == "5"
    thin = next(w.value for w in at.warning if "validation rows" in w.value)
    assert unescape(thin).startswith(
        "**Warning (validation):** all 2 labels have fewer than 5 validation rows (median 2.5 "
        "per label, minimum 2): the choice of checkpoint and every validation figure rest on 5 "
        "texts"
    )
    # User text reaches Markdown only escaped: no tag, link or directive can form.
    conflict = next(w.value for w in at.warning if "more than one label" in w.value)
    assert "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in conflict

    at.checkbox(key="drop_conflicting").check().run()
    at.button(key="use_data").click().run()
    assert not at.exception and not at.error
    data = at.session_state["dataset"].data
    assert data.valid is None and HOSTILE not in data.train.texts
    assert len(data.train) == 24 and data.sizes() == (19, 5)  # 4.8 rounded: 5
    assert "Data set ready: 19 training and 5 validation examples, 2 labels." in shown(at)


def test_data_page_shows_a_bad_file_error_without_a_traceback(tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch)
    bad = b"good text,positive\nbad, text,negative\n"
    at.file_uploader(key="upload_train").set_value(("bad.csv", bad, "text/csv")).run()
    assert not at.exception
    assert [unescape(e.value) for e in at.error] == [
        "row 2: expected 2 columns (text, label), found 3 (put texts that contain a comma in "
        "double quotes)"
    ]
    assert "review_data" not in [b.key for b in at.button]


def test_data_page_example_data_set_and_validation_file(tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch)
    at.button(key="load_example").click().run()
    assert "emotions.csv (example) · 600 rows · 6 labels" in shown(at)
    valid = csv_bytes([("Thank you so much!", "gratitude"), ("lol that is hilarious", "amusement")])
    at.file_uploader(key="upload_valid").set_value(("valid.csv", valid, "text/csv")).run()
    at.button(key="review_data").click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric][:3] == ["600", "2", "6"]


# ----------------------------------------------------------------------------- train page


@pytest.mark.slow
def test_train_page_starts_a_finetune_and_sees_it_complete(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    at = open_app(runs, monkeypatch)
    data = csv_bytes(tiny_pairs(16))
    at.file_uploader(key="upload_train").set_value(("train.csv", data, "text/csv")).run()
    at.button(key="review_data").click().run()
    at.button(key="use_data").click().run()
    go(at, "app_pages/train.py")
    at.number_input(key="cfg_epochs").set_value(1).run()
    at.button(key="start_training").click().run()
    assert not at.exception and not at.error
    run_id = at.session_state["run_id"]
    assert at.query_params["run"] == run_id  # a browser refresh finds it again
    assert f"Started run {run_id}." in shown(at)

    record = wait(RunStore(runs), run_id, timeout_s=TRAIN_TIMEOUT_S)
    assert record.status == "completed", record.error
    at.run()
    text = shown(at)
    assert "Finetune completed. Now you can test your model in the Playground." in text
    assert "Open the Playground" in [link.proto.label for link in at.get("page_link")]

    # The same data and settings again: the finished run is reused, and says so.
    at.button(key="start_training").click().run()
    assert f"Reused completed run {run_id}" in shown(at)


def test_a_refreshed_browser_finds_the_run_in_the_url(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    dataset = split(LabeledTexts.from_pairs(tiny_pairs(6)), seed=0)
    record, _ = store.create(TrainConfig(epochs=1), dataset)
    store.update(record.id, status="cancelled")
    at = go(open_app(runs, monkeypatch, run=record.id), "app_pages/train.py")
    assert at.session_state["run_id"] == record.id
    assert "The run was cancelled" in shown(at)


def test_train_page_builds_its_settings_from_the_config_metadata(tmp_path, monkeypatch):
    """Every setting with a page label is offered with its label, help, default, range or
    choices as TrainConfig's metadata gives them; nothing else is."""
    import dataclasses

    from core.config import page_settings
    from core.data.labeled import TrainingData
    from core.errors import ConfigError
    from core.runs.datasets import SavedData, save_data

    runs = tmp_path / "runs"
    saved = SavedData(TrainingData(LabeledTexts.from_pairs(tiny_pairs(12), name="tiny.csv")))
    key = save_data(RunStore(runs), saved)
    at = go(open_app(runs, monkeypatch, data=key), "app_pages/train.py")
    defaults = TrainConfig()
    widgets = {w.key: w for kind in ("number_input", "checkbox", "selectbox") for w in at.get(kind)}
    offered = {k for k in widgets if k.startswith("cfg_")}
    fields = page_settings()
    assert offered == {f"cfg_{f.name}" for f in fields} and len(fields) >= 9
    for f in fields:
        widget, meta = widgets[f"cfg_{f.name}"], f.metadata
        assert (widget.label, widget.help) == (meta["label"], meta["help"]), f.name
        assert widget.value == getattr(defaults, f.name), f.name
        if "choices" in meta:
            assert list(widget.options) == list(meta["choices"]), f.name
        elif hasattr(widget, "min"):  # a number input
            assert (widget.min, widget.max) == (meta["min"], meta["max"]), f.name
            if "step" in meta:
                assert widget.step == meta["step"], f.name
    # The ranges the page offers are those the config accepts.
    for f in fields:
        if isinstance(f.default, int) and not isinstance(f.default, bool) and "max" in f.metadata:
            dataclasses.replace(defaults, **{f.name: f.metadata["max"]})
            with pytest.raises(ConfigError):
                dataclasses.replace(defaults, **{f.name: f.metadata["max"] + 1})


# ----------------------------------------------------------------------------- dashboard


@pytest.mark.slow
def test_dashboard_lists_completed_failed_and_broken_runs(seeded, monkeypatch):
    root, run_id = seeded
    at = go(open_app(root, monkeypatch), "app_pages/dashboard.py")
    table = at.dataframe[0].value
    assert set(table["status"]) == {"completed", "failed", "broken"}
    assert table.loc[table["run"] == run_id, "best F1"].notna().all()
    failed = table.loc[table["status"] == "failed", "run"].item()
    at.selectbox(key="dashboard_run").select(failed).run()
    assert "Failed: out of memory in the finetune phase" in shown(at)
    assert at.code[0].value == f"line one\n{HOSTILE}"  # the log tail as plain text
    at.selectbox(key="dashboard_run").select("ft-broken000000").run()
    assert "cannot be read" in shown(at)


def test_dashboard_deletes_a_run_after_confirmation(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    dataset = split(LabeledTexts.from_pairs(tiny_pairs(6)), seed=0)
    record, _ = store.create(TrainConfig(epochs=1), dataset)
    store.update(record.id, status="failed", error={"reason": "test", "log_tail": []})
    at = go(open_app(runs, monkeypatch), "app_pages/dashboard.py")
    at.button(key="delete_run").click().run()
    assert store.path(record.id).exists()  # not yet: asks first
    at.button(key="keep_run").click().run()
    at.button(key="delete_run").click().run()
    at.button(key="confirm_delete").click().run()
    assert not at.exception
    assert not store.path(record.id).exists()
    assert f"Deleted run `{record.id}`." in shown(at)
    assert "No finetunes yet" in shown(at)


# ----------------------------------------------------------------------------- metrics


@pytest.mark.slow
def test_metrics_page_shows_the_stored_numbers(seeded, monkeypatch):
    root, run_id = seeded
    record = RunStore(root).get(run_id)
    at = go(open_app(root, monkeypatch, run=run_id), "app_pages/metrics.py")
    final, gains = record.final.metrics, record.final.metrics.gain_over(record.baseline.metrics)
    metrics = {m.label: m for m in at.metric}
    assert metrics["Accuracy"].value == f"{final.accuracy:.3f}"
    assert metrics["F1"].value == f"{final.f1:.3f}"
    assert metrics["Recall"].value == f"{final.recall:.3f}"
    assert metrics["Precision"].delta == f"{gains['precision']:+.3f}"
    assert "Macro-F1" not in metrics  # one F1 tile: macro-F1 itself for three labels
    assert "Finetune completed. Now you can test your model in the Playground." in shown(at)
    low, high = record.final.intervals["accuracy"]
    assert f"[{low:.3f} to {high:.3f}]" in shown(at)
    assert "lean optimistic" in shown(at) and "test file" in shown(at)
    per_label = at.dataframe[0].value
    assert list(per_label["label"]) == ["food", "sport", "tech"]
    assert list(per_label["support"]) == [c.support for c in record.final.per_class]
    # Every label has fewer than 5 validation examples here: marked, and named by the headline.
    assert set(per_label["note"]) == {"fewer than 5 examples"}
    [few] = [line for line in shown(at).splitlines() if "Fewer than 5 validation" in line]
    assert all(label in few for label in ("food", "sport", "tech"))
    assert len(at.get("vega_lite_chart")) == 6  # 4 curves + 2 confusion matrices
    assert "Evaluate on a test file" in shown(at)


@pytest.mark.slow
def test_metrics_page_celebrates_only_a_clear_gain(run_copy, monkeypatch):
    from core.train.metrics import evaluate_predictions

    store = run_copy.store
    record = store.get(run_copy.run_id)
    labels = list(record.final.labels)
    truth = [labels[i % 3] for i in range(300)]
    wrong = [labels[(i + 1) % 3] for i in range(300)]
    clear = evaluate_predictions(truth, truth, labels)
    noise = evaluate_predictions(truth, truth[:295] + wrong[295:], labels)
    # Each wrong where the other is right on a few rows: a gain within the noise.
    before = evaluate_predictions(truth, truth[:290] + wrong[290:297] + truth[297:], labels)
    for final, celebrated in ((clear, True), (noise, False)):
        store.update(record.id, final=final, baseline=before)
        at = go(open_app(run_copy.root, monkeypatch, run=record.id), "app_pages/metrics.py")
        icons = [e.proto.icon for e in at.success] + [e.proto.icon for e in at.info]
        assert (":material/celebration:" in icons) is celebrated, icons
        assert "Finetune completed. Now you can test your model in the Playground." in shown(at)
    assert "includes zero" in shown(at)


@pytest.mark.slow
def test_metrics_page_evaluates_a_test_file_and_lists_the_errors(run_copy, monkeypatch):
    root, run_id = run_copy.root, run_copy.run_id
    test = "text,label\nthe striker scored twice,sport\nfresh bread and butter,food\n"
    test += "my phone battery died,tech\na bowl of ramen,sport\n"
    at = go(open_app(root, monkeypatch, run=run_id), "app_pages/metrics.py")
    at.file_uploader(key=f"test_file_{run_id}").set_value(
        ("holdout.csv", test.encode(), "text/csv")
    ).run()
    assert not at.exception and not at.error
    assert "read as a header" in shown(at) and "4 rows · 3 labels" in shown(at)
    [evaluate] = [b for b in at.button if b.key.startswith(f"evaluate_{run_id}_")]
    evaluate.click().run(timeout=180)
    assert not at.exception and not at.error
    [summary] = run_copy.store.get(run_id).tests
    assert summary.name == "holdout.csv" and summary.n == 4
    # The same rows again: the kept result, not a second scoring.
    assert "evaluated on these rows before" in shown(at)
    assert not [b for b in at.button if b.key.startswith(f"evaluate_{run_id}_")]
    text = shown(at)
    assert "holdout.csv" in text and "test file of 4 examples" in text
    errors = [d.value for d in at.dataframe if "predicted label" in d.value.columns]
    # The planted error (ramen labelled sport) is among the test errors.
    assert "a bowl of ramen" in set(errors[-1]["text"])
    # A label the run never learnt: the file is scored anyway (its rows count as errors).
    bad = "a yacht race,sailing\nfresh bread,food\n"
    at.file_uploader(key=f"test_file_{run_id}").set_value(
        ("bad.csv", bad.encode(), "text/csv")
    ).run()
    [evaluate] = [b for b in at.button if b.key.startswith(f"evaluate_{run_id}_")]
    evaluate.click().run(timeout=180)
    assert not at.exception and not at.error
    kept = {t.name: t for t in run_copy.store.get(run_id).tests}
    assert kept["bad.csv"].n == 2
    text = shown(at)
    assert "bad.csv" in text and "test file of 2 examples" in text
    outcomes = [unescape(e.value) for e in (*at.success, *at.info)]
    assert any("F1" in o and "2 test texts" in o for o in outcomes), outcomes


# ----------------------------------------------------------------------------- playground


@pytest.mark.slow
def test_playground_classifies_a_text(seeded, monkeypatch):
    root, run_id = seeded
    at = go(open_app(root, monkeypatch, run=run_id), "app_pages/playground.py")
    assert at.selectbox(key="playground_model").value == run_id
    at.session_state["playground_tab"] = "Classify"
    at.run()
    at.text_area(key="classify_text").set_value(f"she scored twice in the final\n{HOSTILE}")
    at.button(key="classify").click().run()
    assert not at.exception and not at.error
    results = at.session_state["classify_results"][1]
    assert [r["input"] for r in results] == ["she scored twice in the final", HOSTILE]
    assert results[0]["prediction"] == "sport"
    assert set(results[0]["labels"]) == {"food", "sport", "tech"}
    # Exactly what POST /v1/classify answers, and the same request as curl and Python.
    shown_body = json.loads(at.json[0].value)
    assert shown_body == at.session_state["classify_results"][2]
    for item, result in zip(shown_body["classifications"], results, strict=True):
        assert (item["input"], item["prediction"]) == (result["input"], result["prediction"])
        assert {k: v["confidence"] for k, v in item["labels"].items()} == result["labels"]
    assert [c.language for c in at.code] == ["bash", "python"]
    assert f'"model": "{run_id}"' in at.code[0].value and "co.classify(" in at.code[1].value
    assert [t.value for t in at.text] == [r["input"] for r in results]  # plain text, not Markdown


@pytest.mark.slow
def test_playground_embeds_with_a_base_model(seeded, monkeypatch):
    root, _ = seeded
    at = go(open_app(root, monkeypatch), "app_pages/playground.py")
    at.selectbox(key="playground_model").select("small").run()
    at.text_area(key="embed_text").set_value("=cmd()\nhello\nhi there").run()
    assert not at.exception and not at.error
    assert "3 vectors of 384 dimensions" in shown(at)
    assert [d.label for d in at.get("download_button")] == ["Download CSV", "Download .npy"]


@pytest.mark.slow
def test_playground_maps_the_validation_texts_once_in_the_background(run_copy, monkeypatch):
    import time

    from core.runs.maps import MAP_FILE

    root, run_id = run_copy.root, run_copy.run_id
    (root / run_id / MAP_FILE).unlink(missing_ok=True)  # as for a run from before maps were kept
    at = go(open_app(root, monkeypatch, run=run_id), "app_pages/playground.py")
    at.session_state["playground_tab"] = "Map"
    at.run()
    assert not at.exception and not at.error
    assert "Computing the map of the run's" in shown(at)  # the page answers at once
    deadline = time.monotonic() + 180
    while not (root / run_id / MAP_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    assert len(at.get("vega_lite_chart")) == 2
    assert sum("texts misclassified" in c for c in shown(at).splitlines()) == 2


def test_classify_needs_a_finetuned_run(tmp_path, monkeypatch):
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    at.session_state["playground_tab"] = "Classify"
    at.run()
    assert "A base model embeds but cannot classify" in shown(at)


def test_playground_classifies_on_the_onnx_int8_backend(onnx_run, monkeypatch):
    from core.runs.resolve import load_run

    root, run_id = onnx_run.root, onnx_run.run_id
    at = go(open_app(root, monkeypatch, run=run_id), "app_pages/playground.py")
    at.session_state["playground_tab"] = "Classify"
    at.session_state["playground_backend"] = "onnx-int8"
    at.run()
    texts = ["she scored twice in the final", "the soup was too salty"]
    at.text_area(key="classify_text").set_value("\n".join(texts))
    at.button(key="classify").click().run()
    assert not at.exception and not at.error
    results = at.session_state["classify_results"][1]
    assert [r["prediction"] for r in results] == load_run(run_id, onnx_run.store).predict(texts)
    assert "ONNX int8 body checked against PyTorch: onnx-int8 on " in shown(at)


def test_playground_without_onnx_packages_says_how_to_add_them(onnx_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    at = go(open_app(onnx_run.root, monkeypatch, run=onnx_run.run_id), "app_pages/playground.py")
    at.session_state["playground_backend"] = "onnx"
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "The onnx backend needs onnxruntime, which is not installed: run `pip install -r "
        "requirements-onnx.txt` (the torch backend works without it). Using PyTorch."
    ]


def test_playground_selects_the_clis_default_backend(tmp_path, monkeypatch):
    from core.model.onnx import default_backend

    monkeypatch.delenv("EMBEDTUNE_BACKEND")  # conftest pins torch; here the machine decides
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    assert at.segmented_control(key="playground_backend").value == default_backend()
    assert not at.warning and not at.info

    monkeypatch.setenv("EMBEDTUNE_BACKEND", "tpu")
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    assert at.segmented_control(key="playground_backend").value == "torch"
    assert [unescape(w.value) for w in at.warning] == [
        "EMBEDTUNE_BACKEND: unknown backend 'tpu': choose torch, torch-bf16, onnx, onnx-int8, "
        "openvino, openvino-int8, static. Using PyTorch."
    ]


def test_playground_backend_without_its_package_names_its_pip_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    monkeypatch.setenv("EMBEDTUNE_BACKEND", "openvino")
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    assert at.segmented_control(key="playground_backend").value == "openvino"
    assert [w.value for w in at.warning] == [
        "The openvino backend needs openvino, which is not installed: run `pip install --no-deps "
        "-r requirements-backends.txt` (the torch backend works without it). Using PyTorch."
    ]


def test_playground_bf16_backend_on_a_cpu_without_bf16_units_stays_on_pytorch(
    tmp_path, monkeypatch
):
    from core.model import catalogue

    monkeypatch.setattr(catalogue, "cpu_supports_bf16", lambda: False)  # as on such a CPU
    monkeypatch.delenv("EMBEDTUNE_BACKEND")
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/playground.py")
    assert at.segmented_control(key="playground_backend").value == "torch"  # the default there
    at.segmented_control(key="playground_backend").set_value("torch-bf16").run()
    assert not at.exception and not at.warning
    [info] = at.info
    assert info.value.startswith(
        "The torch-bf16 backend needs a CPU with bfloat16 instructions (AVX512-BF16 or AMX)"
    )
    assert info.value.endswith("use torch, onnx-int8 or openvino. Using PyTorch.")

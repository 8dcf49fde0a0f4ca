"""`python -m core`: every command, its JSON, exit codes and one-line errors."""

from __future__ import annotations

import csv
import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.cli.parser import FLAGS, build_parser
from core.cli.runs import config_from_args
from core.config import TrainConfig
from core.data.cleaning import CleaningConfig
from core.runs.store import RunStore
from tests.helpers import ROOT, SHARED_DATA, tiny_dataset

SHARED = SHARED_DATA


def _write(path: Path, pairs) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(pairs)
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_python_m_core_reviews_a_real_data_set_as_json():
    out = subprocess.run(
        [sys.executable, "-m", "core", "review", str(SHARED / "sst2" / "train.csv"), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    # The automatic 20 % validation split is already counted in.
    assert (report["train_rows"], report["valid_rows"]) == (8000, 2000)
    counts = {k: report["train_counts"][k] + report["valid_counts"][k] for k in ("0", "1")}
    assert counts == {"0": 4426, "1": 5574}


def test_review_of_unusable_data_exits_2_with_one_error_line(tmp_path, capsys):
    bad = _write(tmp_path / "bad.csv", [("good", "pos"), ("bad", "neg", "extra")])
    code, out, err = run_cli(capsys, "review", str(bad))
    assert code == 2
    assert err == (
        "error: row 2: expected 2 columns (text, label), found 3 "
        "(put texts that contain a comma in double quotes)\n"
    )
    empty = _write(tmp_path / "empty-text.csv", [("good", "pos"), ("", "neg"), ("bad", "neg")])
    code, out, err = run_cli(capsys, "review", str(empty))
    assert code == 2 and err.startswith("error: ") and "row 2" in err and err.count("\n") == 1
    assert "Traceback" not in out + err


def test_errors_about_runs_are_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "status", "../../etc", "--runs-dir", str(tmp_path))
    assert code == 2 and err.startswith("error: invalid run id '../../etc'")
    code, _, err = run_cli(capsys, "classify", "ft-000000000000", "hi", "--runs-dir", str(tmp_path))
    assert (
        code == 2 and err == f"error: unknown model 'ft-000000000000': no such run in {tmp_path}\n"
    )


def test_rename_names_a_run_and_status_says_where_a_queued_run_waits(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    first, _ = store.create(TrainConfig(seed=1), tiny_dataset())
    second, _ = store.create(TrainConfig(seed=2), tiny_dataset())
    runs = str(tmp_path / "runs")
    code, out, _ = run_cli(capsys, "rename", first.id, "first try", "--runs-dir", runs)
    assert code == 0 and out == f"run {first.id} is now named 'first try'\n"
    assert store.get(first.id).name == "first try" and store.get(first.id).id == first.id
    code, out, _ = run_cli(capsys, "runs", "--runs-dir", runs, "--json")
    assert {r["run_id"]: r["name"] for r in json.loads(out)} == {
        first.id: "first try",
        second.id: "",
    }
    code, _, err = run_cli(capsys, "rename", first.id, "x" * 61, "--runs-dir", runs)
    assert code == 2 and err.startswith("error: a run name can be at most 60 characters")
    # The same line as the app: its place in the queue and what it waits behind.
    code, out, _ = run_cli(capsys, "status", second.id, "--runs-dir", runs)
    assert code == 0
    assert out.startswith(f"run {second.id}: queued · 2nd in the queue, after {first.id}, about")


def test_following_a_queued_run_prints_its_place_when_it_changes(tmp_path, capsys):
    from core.cli.render import progress_printer
    from core.runs.status import status_line

    store = RunStore(tmp_path / "runs")
    first, _ = store.create(TrainConfig(seed=1), tiny_dataset())
    second, _ = store.create(TrainConfig(seed=2), tiny_dataset())
    update = progress_printer(lambda record: status_line(record, store))
    update(store.get(second.id))
    update(store.get(second.id))  # the same place: nothing new
    store.update(first.id, status="cancelled")
    update(store.get(second.id))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"queued: 2nd in the queue, after {first.id}, about ")
    assert lines[1] == "queued: Next in the queue: starting"


def test_models_lists_the_catalogue_and_the_device(capsys):
    code, out, _ = run_cli(capsys, "models", "--json")
    data = json.loads(out)
    assert code == 0 and [m["key"] for m in data["models"]] == ["small", "large"]
    assert data["device"]["kind"] in ("cpu", "cuda", "mps")


def test_embed_with_a_base_model(capsys):
    code, out, _ = run_cli(capsys, "embed", "small", "hello", "world", "--json")
    data = json.loads(out)
    assert code == 0 and data["texts"] == ["hello", "world"]
    assert len(data["embeddings"]) == 2 and len(data["embeddings"][0]) == 384


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real finetune through the CLI, shared by the tests below."""
    folder = tmp_path_factory.mktemp("cli")
    data = tiny_dataset()
    pairs = list(zip(data.train.texts + data.valid.texts, data.train.labels + data.valid.labels))
    train_csv = _write(folder / "train.csv", pairs)
    runs = folder / "runs"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "train",
            str(train_csv),
            "--epochs",
            "1",
            "--runs-dir",
            str(runs),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return folder, runs, json.loads(out.stdout), out.stderr


@pytest.mark.slow
def test_train_prints_progress_and_one_json_object(trained):
    _, _, result, stderr = trained
    assert result["status"] == "completed"
    for key in ("baseline", "finetuned"):
        assert set(result[key]) >= {"accuracy", "f1", "precision", "recall", "macro_f1"}
    assert result["run_id"].startswith("ft-")
    assert "Started run" in stderr and "finetune" in stderr
    # 24 rows, 3 labels: 5 validation rows in all, and the command line says what follows.
    assert "warning: all 3 labels have fewer than 5 validation rows (median 2 per label" in stderr
    # The estimate: no finished run in this runs folder yet, so the catalogue's figures.
    assert "estimated time: about " in stderr and "from the catalogue's CPU figures" in stderr


@pytest.mark.slow
def test_training_the_same_again_reuses_the_run(trained, capsys):
    folder, runs, result, _ = trained
    code, out, err = run_cli(
        capsys,
        "train",
        str(folder / "train.csv"),
        "--epochs",
        "1",
        "--runs-dir",
        str(runs),
        "--json",
    )
    assert code == 0 and json.loads(out)["run_id"] == result["run_id"]
    assert err.startswith(f"Reused completed run {result['run_id']}")
    assert "--force trains again" in err.splitlines()[0]


def test_runs_status_classify_evaluate_export(completed_run, capsys, tmp_path):
    runs, run_id = completed_run.root, completed_run.run_id
    code, out, _ = run_cli(capsys, "runs", "--runs-dir", str(runs), "--json")
    assert code == 0 and [r["run_id"] for r in json.loads(out)] == [run_id]

    code, out, _ = run_cli(capsys, "status", run_id, "--runs-dir", str(runs), "--json")
    record = completed_run.store.get(run_id)
    assert code == 0 and json.loads(out)["finetuned"]["macro_f1"] == record.final.metrics.macro_f1

    code, out, _ = run_cli(
        capsys,
        "classify",
        run_id,
        "a spicy curry (9)",
        "the laptop overheats (9)",
        "--runs-dir",
        str(runs),
        "--json",
    )
    predictions = json.loads(out)
    assert code == 0 and [p["prediction"] for p in predictions] == ["food", "tech"]
    assert set(predictions[0]["labels"]) == {"food", "sport", "tech"}

    code, out, _ = run_cli(
        capsys, "embed", run_id, "a spicy curry", "--runs-dir", str(runs), "--json"
    )
    assert code == 0 and len(json.loads(out)["embeddings"][0]) == 384

    dest = tmp_path / "exported"
    code, out, _ = run_cli(capsys, "export", run_id, str(dest), "--runs-dir", str(runs))
    assert code == 0
    assert sorted(p.name for p in dest.iterdir()) == [
        "README.md",  # the model card (tests/runs/test_export.py)
        "head.safetensors",
        "labels.json",
        "model",
        "run.json",
    ]
    code, _, err = run_cli(capsys, "export", run_id, str(dest), "--runs-dir", str(runs))
    assert code == 2 and err == f"error: {dest} exists and is not empty: choose a new folder\n"


def test_evaluate_scores_the_base_model_beside_the_run_and_keeps_the_result(
    run_copy, capsys, tmp_path
):
    runs, run_id = run_copy.root, run_copy.run_id
    data = tiny_dataset()
    test_csv = _write(tmp_path / "test.csv", zip(data.train.texts, data.train.labels))
    code, out, _ = run_cli(
        capsys, "evaluate", run_id, str(test_csv), "--runs-dir", str(runs), "--json"
    )
    evaluation = json.loads(out)
    assert code == 0 and evaluation["n"] == len(data.train)
    assert {"accuracy", "f1", "precision", "recall", "macro_f1"} <= set(evaluation)
    assert len(evaluation["confusion_matrix"]) == 3 and len(evaluation["per_class"]) == 3
    base = evaluation["base_model"]
    assert base["n"] == len(data.train) and len(base["per_class"]) == 3
    for name in ("accuracy", "f1", "macro_f1"):
        assert evaluation["gain"][name] == pytest.approx(evaluation[name] - base[name])
        low, high = evaluation["intervals"][name]
        assert low <= evaluation[name] <= high
        low, high = evaluation["gain_intervals"][name]
        assert low <= evaluation["gain"][name] <= high
    assert evaluation["outcome"] in ("gain", "unclear", "kept_base")
    # Kept with the run: the Dashboard and the Metrics page show it.
    [summary] = run_copy.store.get(run_id).tests
    assert summary.name == "test.csv" and summary.n == len(data.train)
    assert summary.f1 == evaluation["f1"] and summary.base_f1 == base["f1"]

    code, out, err = run_cli(capsys, "evaluate", run_id, str(test_csv), "--runs-dir", str(runs))
    assert code == 0 and err.startswith("Reused the evaluation of these rows kept on ")
    lines = out.splitlines()
    assert lines[0].startswith(f"test file test.csv: {len(data.train)} rows, 3 labels")
    assert lines[1].split() == ["finetuned", "base", "model", "gain"]
    assert lines[2].startswith("accuracy   ") and "[" in lines[2]
    assert "base f1" in out and lines[-1].endswith(".")
    assert len(run_copy.store.get(run_id).tests) == 1  # the same file is kept once


def test_evaluate_scores_labels_the_run_never_learnt_as_errors_or_skips_them(
    run_copy, capsys, tmp_path
):
    runs, run_id = run_copy.root, run_copy.run_id
    rows = [
        ("a spicy curry", "food"),
        ("a yacht race", "sailing"),
        ("the laptop overheats", "tech"),
        ("rowing at dawn", "rowing"),
        ("a regatta in the wind", "sailing"),
    ]
    test_csv = _write(tmp_path / "test.csv", rows)
    code, out, err = run_cli(capsys, "evaluate", run_id, str(test_csv), "--runs-dir", str(runs))
    assert code == 0 and err == ""
    lines = out.splitlines()
    # Said before the scores, briefly; the file is scored anyway.
    assert lines[0] == (
        "2 labels the run never learnt: 'rowing' (1 row), 'sailing' (2 rows); their rows count "
        "as errors (--unseen skip leaves them out)"
    )
    assert lines[1].startswith("test file test.csv: 5 rows, 5 labels")
    assert "(never learnt)" in out

    skip = ("--unseen", "skip", "--runs-dir", str(runs))
    code, out, err = run_cli(capsys, "evaluate", run_id, str(test_csv), *skip, "--json")
    evaluation = json.loads(out)
    assert code == 0 and err == ""
    assert evaluation["unseen_labels"] == ["rowing", "sailing"] and evaluation["skipped"] == 3
    assert evaluation["n"] == 2 and evaluation["labels"] == ["food", "sport", "tech"]
    assert evaluation["base_model"]["n"] == 2 and evaluation["reused"] is False

    code, out, _ = run_cli(capsys, "evaluate", run_id, str(test_csv), *skip)
    assert code == 0 and out.splitlines()[0] == (
        "2 labels the run never learnt: 'rowing' (1 row), 'sailing' (2 rows); their 3 rows are "
        "left out (--unseen count scores them as errors)"
    )
    # Both choices are kept with the run, each once.
    assert len(run_copy.store.get(run_id).tests) == 2

    code, out, err = run_cli(
        capsys, "evaluate", run_id, str(test_csv), "--runs-dir", str(runs), "--json"
    )
    evaluation = json.loads(out)
    assert evaluation["unseen_labels"] == ["rowing", "sailing"] and evaluation["skipped"] == 0
    assert evaluation["n"] == 5 and evaluation["labels"][3:] == ["rowing", "sailing"]
    assert evaluation["reused"] is True and err.startswith("Reused the evaluation of these rows")


def test_evaluate_reads_a_first_row_of_column_names_as_the_header(run_copy, capsys, tmp_path):
    runs, run_id = run_copy.root, run_copy.run_id
    rows = [("a spicy curry", "food"), ("the striker scored", "sport"), ("a new phone", "tech")]
    named = _write(tmp_path / "named.csv", [("text", "label"), *rows])
    code, out, err = run_cli(
        capsys, "evaluate", run_id, str(named), "--runs-dir", str(runs), "--json"
    )
    assert code == 0 and json.loads(out)["n"] == 3
    assert err == (
        "warning: row 1 looks like column names ('text', 'label'), so it was read as the header\n"
    )
    # The same rows without the header line: the kept result, not a second scoring.
    plain = _write(tmp_path / "plain.csv", rows)
    code, out, err = run_cli(capsys, "evaluate", run_id, str(plain), "--runs-dir", str(runs))
    assert code == 0 and "3 rows, 3 labels" in out
    assert err.startswith("Reused the evaluation of these rows kept on ")
    assert len(run_copy.store.get(run_id).tests) == 1


def test_evaluate_scores_the_run_on_the_chosen_backend_and_the_base_model_on_torch(
    run_copy, capsys, tmp_path, monkeypatch
):
    from core.model.catalogue import cpu_supports_bf16

    runs, run_id = run_copy.root, run_copy.run_id
    data = tiny_dataset()
    rows = [*zip(data.valid.texts, data.valid.labels), *zip(data.train.texts, data.train.labels)]
    test_csv = _write(tmp_path / "test.csv", rows)
    args = ("evaluate", run_id, str(test_csv), "--runs-dir", str(runs), "--json")
    code, out, _ = run_cli(capsys, *args)
    on_torch = json.loads(out)
    assert code == 0 and on_torch["backend"] == "torch"  # conftest pins EMBEDTUNE_BACKEND

    backend = "torch-bf16" if cpu_supports_bf16() else "onnx"
    code, out, _ = run_cli(capsys, *args, "--backend", backend)
    other = json.loads(out)
    # Scored again on that backend (not the kept torch result), within a point of PyTorch's
    # macro-F1; the base model stays on torch, so its scores are PyTorch's.
    assert code == 0 and other["backend"] == backend and other["reused"] is False
    assert other["n"] == on_torch["n"] == len(rows)
    assert abs(other["macro_f1"] - on_torch["macro_f1"]) <= 0.01
    assert other["base_model"]["macro_f1"] == pytest.approx(on_torch["base_model"]["macro_f1"])
    [summary] = run_copy.store.get(run_id).tests  # kept once, in the torch result's place
    assert summary.f1 == other["f1"]

    # No --backend: the default (EMBEDTUNE_BACKEND here), which finds the kept result.
    monkeypatch.setenv("EMBEDTUNE_BACKEND", backend)
    code, out, err = run_cli(capsys, *args[:-1])
    assert code == 0 and err.startswith("Reused the evaluation of these rows kept on ")
    assert (
        f"finetuned scored on the {backend} backend; base model on torch (PyTorch, the reference "
        "each backend's body is checked against)"
    ) in out.splitlines()


def test_train_help_offers_every_setting_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("base_model", "cleaning"):
            continue  # --model and --clean, with the data arguments
        flag = FLAGS.get(field.name, (f"--{field.name.replace('_', '-')}",))[0]
        default = getattr(TrainConfig(), field.name)
        assert flag in text, field.name
        assert f"(default: {'auto' if default is None else default})" in text, field.name
    assert "--patience N" in text and "--head-lr VALUE" in text and "--no-head-balanced" in text


def test_every_setting_can_be_set_on_the_command_line(tmp_path):
    args = build_parser().parse_args(
        ["train", "x.csv", "--patience", "5", "--head-lr", "0.002", "--evals-per-epoch", "2"]
        + ["--no-head-balanced", "--head-c", "2", "--max-seq-length", "64", "--balanced"]
        + ["--warmup-ratio", "0", "--model", "large", "--clean"]
    )
    config = config_from_args(args)
    assert config == TrainConfig(
        base_model="large",
        early_stopping_patience=5,
        head_learning_rate=0.002,
        evals_per_epoch=2,
        head_balanced=False,
        head_c=2.0,
        max_seq_length=64,
        balanced_weights=True,
        warmup_ratio=0.0,
        cleaning=CleaningConfig.ALL,
    )
    assert config_from_args(build_parser().parse_args(["train", "x.csv"])) == TrainConfig()


def _train_process(csv_path: Path, runs: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "train", str(csv_path), "--runs-dir", str(runs)]
        + ["--epochs", "20", "--batch-size", "8", "--max-seq-length", "32", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_started(runs: Path, timeout_s: float = 120) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for record in RunStore(runs).list():
            if record.status == "running":
                return record.id
        time.sleep(0.2)
    raise AssertionError("no run started")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_cancels_the_run_and_exits_128_plus_the_signal(tmp_path, signum):
    data = tiny_dataset()
    train_csv = _write(tmp_path / "train.csv", zip(data.train.texts, data.train.labels))
    process = _train_process(train_csv, tmp_path / "runs", "--seed", str(int(signum)))
    run_id = _run_started(tmp_path / "runs")
    process.send_signal(signum)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 128 + signum, err
    assert f"cancelling run {run_id}" in err
    assert f"error: interrupted by {signal.Signals(signum).name}" in err
    assert RunStore(tmp_path / "runs").get(run_id).status == "cancelled"
    assert f"run {run_id}: cancelled" in out


@pytest.mark.slow
def test_detach_leaves_the_run_training_and_says_how_to_follow_it(tmp_path, capsys):
    data = tiny_dataset()
    train_csv = _write(tmp_path / "train.csv", zip(data.train.texts, data.train.labels))
    runs = tmp_path / "runs"
    process = _train_process(train_csv, runs, "--detach", "--name", "detached <b>run</b>")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    run_id = err.split("Started run ")[1].split(".")[0]
    assert RunStore(runs).get(run_id).name == "detached <b>run</b>"  # kept as text
    assert f"follow it: python -m core status {run_id} --follow --runs-dir {runs}" in out
    assert RunStore(runs).get(run_id).active  # the worker trains on without the command
    code, out, _ = run_cli(capsys, "cancel", run_id, "--runs-dir", str(runs))
    assert code == 0 and "cancel requested" in out
    code, out, _ = run_cli(capsys, "status", run_id, "--follow", "--runs-dir", str(runs))
    assert code == 1 and f"run {run_id}: cancelled" in out  # followed to its end


def test_classify_reads_the_chosen_column_of_a_parquet_file(completed_run, tmp_path, capsys):
    import pandas as pd

    texts = ["a spicy curry (9)", "the laptop overheats (9)"]
    path = tmp_path / "texts.parquet"
    pd.DataFrame({"id": [1, 2], "body": texts, "source": ["web", "app"]}).to_parquet(path)
    runs = str(completed_run.root)
    argv = ["classify", completed_run.run_id, "--file", str(path), "--text-column", "body"]
    code, out, _ = run_cli(capsys, *argv, "--runs-dir", runs, "--json")
    assert code == 0 and [r["input"] for r in json.loads(out)] == texts


def test_export_onnx_int8_and_classify_on_it(onnx_run, capsys, tmp_path):
    runs, run_id = str(onnx_run.root), onnx_run.run_id
    dest = tmp_path / "int8"
    code, out, _ = run_cli(
        capsys, "export", run_id, str(dest), "--format", "onnx", "--quantize", "int8",
        "--runs-dir", runs,
    )  # fmt: skip
    lines = out.splitlines()
    assert (
        code == 0 and lines[0] == f"exported run {run_id} to {dest} (model card: {dest}/README.md)"
    )
    assert lines[1].startswith("checked: onnx-int8 on ") and "predictions agree on" in lines[1]
    assert (
        lines[2] == f"the body: {dest}/model/onnx/model_qint8.onnx (README.md says how to run it)"
    )
    code, out, _ = run_cli(
        capsys, "classify", run_id, "a spicy curry (9)", "the laptop overheats (9)",
        "--backend", "onnx-int8", "--runs-dir", runs, "--json",
    )  # fmt: skip
    assert code == 0 and [p["prediction"] for p in json.loads(out)] == ["food", "tech"]


def test_an_onnx_backend_without_its_packages_is_one_error_line(
    completed_run, capsys, monkeypatch, tmp_path
):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    for argv in (
        ["classify", completed_run.run_id, "a text", "--backend", "onnx"],
        ["export", completed_run.run_id, str(tmp_path / "out"), "--format", "onnx"],
    ):
        code, _, err = run_cli(capsys, *argv, "--runs-dir", str(completed_run.root))
        assert code == 2 and err == (
            f"error: the {argv[-1]} backend needs onnxruntime, which is not installed: run "
            "`pip install -r requirements-onnx.txt` (the torch backend works without it)\n"
        )


def test_export_refuses_a_quantisation_its_format_does_not_take(capsys, tmp_path):
    code, _, err = run_cli(
        capsys, "export", "ft-000000000000", str(tmp_path / "out"), "--format", "static",
        "--quantize", "int8", "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 2 and err == (
        "error: --quantize int8 does not apply to --format static: only --format onnx and "
        "openvino are quantised (int8)\n"
    )

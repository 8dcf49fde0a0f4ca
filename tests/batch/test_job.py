"""Batch jobs on the local engine: streamed, resumable classify / embed over files, and the
usage errors of the command line's --out."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from core.batch.job import run_batch
from core.cli import main
from core.data.inputs import read_texts
from core.errors import DataError
from core.io import sniff_bytes
from core.model.classifier import load_embedder
from core.runs.resolve import load_run
from core.runs.store import RunStore
from tests.helpers import ROOT, batch_texts, write_texts_csv, xlsx_workbook

pytestmark = pytest.mark.slow


@pytest.fixture
def single(completed_run) -> tuple[RunStore, dict]:
    """The session's completed run, as (store, {"run_id": ...})."""
    return completed_run.store, {"run_id": completed_run.run_id}


def _read_out_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_streamed_classify_equals_the_in_memory_result(single, tmp_path, capsys):
    store, result = single
    source = write_texts_csv(tmp_path / "in.csv", batch_texts(300), blank_every=97)
    out = tmp_path / "out.csv"
    code = main(
        ["classify", result["run_id"], "--file", str(source), "--out", str(out)]
        + ["--runs-dir", str(store.root), "--chunk-rows", "128", "--json"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["rows"] == 300 and summary["chunks"] == 3
    texts = list(read_texts(source.read_bytes(), limit=10**6).texts)  # the in-memory reader
    expected = load_run(result["run_id"], store).classify(texts)
    rows = _read_out_csv(out)
    assert [r["input"] for r in rows] == texts
    assert [r["prediction"] for r in rows] == [e["prediction"] for e in expected]
    for row, exp in zip(rows, expected, strict=True):
        assert abs(float(row["confidence"]) - exp["confidence"]) < 1e-5
        for label, p in exp["labels"].items():
            assert abs(float(row[f"confidence_{label}"]) - p) < 1e-5
    assert not any(p.name.endswith(".parts") for p in tmp_path.iterdir())


def test_streamed_embed_writes_parquet_equal_to_embed(tmp_path):
    source = write_texts_csv(tmp_path / "in.csv", batch_texts(300))
    result = run_batch(
        "embed", "small", source, tmp_path / "out.parquet", chunk_rows=128, progress=False
    )
    assert (result.rows, result.chunks) == (300, 3)
    table = pq.read_table(tmp_path / "out.parquet")
    texts = batch_texts(300)
    assert table.column("input").to_pylist() == [t.strip() for t in texts]
    vectors = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    expected = load_embedder("small", device="cpu").embed([t.strip() for t in texts])
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_a_crashed_run_resumes_and_writes_every_row_once(single, tmp_path, capsys):
    store, result = single
    texts = batch_texts(320)
    source = write_texts_csv(tmp_path / "in.csv", texts)
    out = tmp_path / "out.csv"
    parts = tmp_path / ".out.csv.parts"
    command = [sys.executable, "-m", "core", "classify", result["run_id"], "--file", str(source)]
    command += ["--out", str(out), "--runs-dir", str(store.root), "--chunk-rows", "16"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(list(parts.glob("part-*.parquet"))) < 3:
            assert process.poll() is None, "the job ended before it could be interrupted"
            assert time.monotonic() < deadline, "no parts written"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)  # a crash: no cleanup runs
    finally:
        process.wait(timeout=60)
    written_before = {p.name for p in parts.glob("part-*.parquet")}
    assert not out.exists() and 3 <= len(written_before) < 20

    code = main(
        ["classify", result["run_id"], "--file", str(source), "--out", str(out)]
        + ["--runs-dir", str(store.root), "--chunk-rows", "16", "--json"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["resumed_chunks"] == len(written_before)
    assert summary["resumed_rows"] == 16 * len(written_before) and summary["rows"] == 320
    rows = _read_out_csv(out)
    assert [r["input"] for r in rows] == [t.strip() for t in texts]  # each row once, in order
    assert not parts.exists()


def test_batch_usage_errors_are_one_line(single, tmp_path, capsys):
    store, result = single
    run, runs = result["run_id"], str(store.root)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("one text\ntwo,columns\n", encoding="utf-8")
    cases = [
        (
            ["classify", run, "--file", str(ragged), "--out", str(tmp_path / "o.txt")],
            f"--out {tmp_path / 'o.txt'}: classify writes .csv or .parquet files; name the "
            "output o.parquet or similar",
        ),
        (
            ["embed", "small", "--file", str(ragged), "--out", str(tmp_path / "o.csv")],
            f"--out {tmp_path / 'o.csv'}: embed writes .parquet files; name the output "
            "o.parquet or similar",
        ),
        (
            ["classify", run, "hello", "--engine", "ray"],
            "--engine ray needs --out (a file to write the results to)",
        ),
        (
            ["classify", run, "hello", "--out", str(tmp_path / "o.csv")],
            "--out takes the texts from --file only (one text per row, first column)",
        ),
        (
            ["classify", run, "--file", str(ragged), "--out", str(tmp_path / "o.csv")]
            + ["--engine", "ray"],
            f"{ragged} has rows of 1 to 2 columns: the Ray engine reads it with Arrow's CSV "
            "reader, which needs the same number on every row (the local engine reads the "
            "first column of any row)",
        ),
    ]
    for argv, message in cases:
        assert main([*argv, "--runs-dir", runs]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"


def test_files_other_than_csv_are_refused_before_a_model_is_loaded(tmp_path):
    book = tmp_path / "texts.csv"  # a workbook, whatever its name says
    book.write_bytes(xlsx_workbook({"S": [["a"], ["b"]]}))
    lines = tmp_path / "texts.jsonl"
    lines.write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    renamed = tmp_path / "export.csv"  # JSON records, found by content
    renamed.write_text('[\n  {"text": "a"}\n]\n', encoding="utf-8")
    pdf = tmp_path / "scan.csv"
    pdf.write_bytes(b"%PDF-1.7\n")
    cases = {
        book: "texts.csv is an Excel workbook",
        lines: "texts.jsonl is JSON Lines",
        renamed: "export.csv is JSON",
    }
    for path, what in cases.items():
        with pytest.raises(DataError) as info:
            # An unknown model: the file is refused before the model is even looked up.
            run_batch("embed", "no-such-model", path, tmp_path / "out.parquet", progress=False)
        assert str(info.value) == (
            f"{what}: batch jobs (--out) stream CSV files only; save it as 'CSV UTF-8', or leave "
            "out --out to read the whole file at once"
        )
    with pytest.raises(DataError) as info:
        run_batch("embed", "no-such-model", pdf, tmp_path / "out.parquet", progress=False)
    assert str(info.value) == sniff_bytes(b"%PDF-1.7\n").refusal


def test_a_multi_label_run_writes_joined_labels_and_a_confidence_per_label(
    multilabel_run, tmp_path
):
    from core.data.multilabel import split_cell

    texts = ["the soup was too salty and she scored twice", "a new phone update", "hello"]
    source = write_texts_csv(tmp_path / "in.csv", texts)
    out = tmp_path / "out.csv"
    run_batch(
        "classify", multilabel_run.run_id, source, out, store=multilabel_run.store, progress=False
    )
    rows = _read_out_csv(out)
    classifier = load_run(multilabel_run.run_id, multilabel_run.store)
    expected = classifier.classify(texts)
    assert list(rows[0]) == ["input", "predictions"] + [
        f"confidence_{label}" for label in classifier.classes_
    ]
    for row, exp in zip(rows, expected, strict=True):
        assert list(split_cell(row["predictions"])) == exp["predictions"]
        for label, p in exp["labels"].items():
            assert abs(float(row[f"confidence_{label}"]) - p) < 1e-5


def test_a_batch_job_classifies_on_the_onnx_backend(onnx_run, tmp_path):
    store, run_id = onnx_run.store, onnx_run.run_id
    source = write_texts_csv(tmp_path / "in.csv", batch_texts(150))
    out = tmp_path / "out.csv"
    result = run_batch("classify", run_id, source, out, store=store, backend="onnx", progress=False)
    assert result.rows == 150
    rows = _read_out_csv(out)
    texts = [r["input"] for r in rows]
    expected = load_run(run_id, store, device="cpu").classify(texts)  # PyTorch
    assert [r["prediction"] for r in rows] == [e["prediction"] for e in expected]
    for row, exp in zip(rows, expected, strict=True):
        assert abs(float(row["confidence"]) - exp["confidence"]) < 1e-3  # fp32: cosine > 0.9999


@pytest.mark.skipif(
    not __import__("core.model.catalogue", fromlist=["x"]).cpu_supports_bf16(),
    reason="this CPU has no bf16 units",
)
def test_a_batch_job_classifies_on_the_torch_bf16_backend(run_copy, tmp_path):
    from core.model.onnx import read_checks

    store, run_id = run_copy.store, run_copy.run_id
    source = write_texts_csv(tmp_path / "in.csv", batch_texts(120))
    out = tmp_path / "out.csv"
    result = run_batch(
        "classify", run_id, source, out, store=store, backend="torch-bf16", progress=False
    )
    assert result.rows == 120
    check = read_checks(store.path(run_id) / "model" / "onnx")["torch-bf16"]
    assert check.passed  # checked on the run's validation texts before the job ran
    rows = _read_out_csv(out)
    expected = load_run(run_id, store, device="cpu").classify([r["input"] for r in rows])
    same = [r["prediction"] == e["prediction"] for r, e in zip(rows, expected, strict=True)]
    assert np.mean(same) >= 0.98  # the check's agreement rule
    gaps = [abs(float(r["confidence"]) - e["confidence"]) for r, e in zip(rows, expected)]
    assert max(gaps) < 0.05

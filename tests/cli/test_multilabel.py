"""The command line with multi-label data: review, evaluate and classify (the tiny multi-label
finetune itself runs through `python -m core train --multi-label` in conftest.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from core.cli import main
from tests.helpers import jsonl_bytes, tiny_multilabel_rows


def _csv(path: Path, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows((text, "|".join(labels)) for text, labels in rows)
    return path


def test_review_reads_label_lists_as_multi_label_and_says_so(tmp_path, capsys):
    path = tmp_path / "topics.jsonl"
    path.write_bytes(jsonl_bytes(tiny_multilabel_rows()))
    assert main(["review", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["multilabel"]["max_labels"] == 2 and report["multilabel"]["multi_rows"] == 6
    assert "warning: read as multi-label: 24 of 24 rows give their labels as a list" in err


def test_review_of_joined_labels_without_the_flag_suggests_it(tmp_path, capsys):
    path = _csv(tmp_path / "topics.csv", tiny_multilabel_rows())
    assert main(["review", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "label cells contain '|'" in err and "(--multi-label)" in err
    assert "info: 6 labels contain '|'" in out
    assert main(["review", str(path), "--multi-label"]) == 0
    out, _ = capsys.readouterr()
    assert "labels per row:      mean 1.25, max 2" in out


def test_evaluate_a_multi_label_run(multilabel_run, tmp_path, capsys):
    path = _csv(tmp_path / "test.csv", tiny_multilabel_rows(3))
    argv = ["evaluate", multilabel_run.run_id, str(path), "--runs-dir", str(multilabel_run.root)]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["average"] == "micro" and 0 <= result["subset_accuracy"] <= 1
    assert result["base_model"]["average"] == "micro"  # the base model scored the same way
    assert set(result["intervals"]) == {"accuracy", "f1", "precision", "recall", "macro_f1"}
    assert set(result["gain_intervals"]) == set(result["intervals"])
    assert [c["label"] for c in result["per_class"]] == ["food", "sport", "tech"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "micro-averaged; multi-label: accuracy is Hamming accuracy" in out
    assert "subset_acc" in out and "95 % interval" in out


def test_classify_prints_every_chosen_label(multilabel_run, capsys):
    argv = ["classify", multilabel_run.run_id, "the soup was too salty and she scored twice"]
    assert main([*argv, "--runs-dir", str(multilabel_run.root), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert set(result) >= {"predictions", "confidences", "labels"}
    assert len(result["predictions"]) == len(result["confidences"])


def test_the_run_keeps_its_thresholds_and_says_it_is_multi_label(multilabel_run):
    from core.runs.resolve import load_run

    folder = multilabel_run.root / multilabel_run.run_id
    meta = json.loads((folder / "labels.json").read_text())
    assert meta["multi_label"] is True and meta["head"] == "one_vs_rest_logistic_regression"
    assert len(meta["thresholds"]) == 3 and all(0 < t < 1 for t in meta["thresholds"])
    classifier = load_run(multilabel_run.run_id, multilabel_run.store, device="cpu")
    assert classifier.multi_label and list(classifier.thresholds_) == meta["thresholds"]
    record = multilabel_run.store.get(multilabel_run.run_id)
    assert record.data.multi_label is True
    assert record.final is not None and record.final.metrics.average == "micro"
    assert record.baseline is not None and record.baseline.metrics.subset_accuracy is not None

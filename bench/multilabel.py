"""Multi-label benchmark (issue #18): frozen embeddings + one-vs-rest logistic regression, SetFit
(multi_target_strategy="one-vs-rest") and Embedtune on GoEmotions, side by side.

    python bench/multilabel.py --seeds 0,1,2 --methods frozen,embedtune,setfit
    python bench/multilabel.py --summary --out bench/results/multilabel.jsonl

Each seed draws its own 1,000 training rows from shared/data/goemotions/train.jsonl; every method
is scored on the same test rows over all 28 labels (a label the sample lacks is never predicted,
so it counts against every method alike). SetFit comes from requirements-bench.txt."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import meta  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.data.files import read_labeled  # noqa: E402
from core.data.labeled import LabeledTexts, split  # noqa: E402
from core.train.multilabel import compute_multilabel_metrics  # noqa: E402
from core.train.multilabel_intervals import indicator  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "goemotions"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/goemotions")
MAX_TEST = 2000


def sample(data: LabeledTexts, rows: int, seed: int) -> LabeledTexts:
    """`rows` rows drawn with this seed, in file order."""
    rng = np.random.default_rng(seed)
    return data.subset(sorted(rng.choice(len(data), size=min(rows, len(data)), replace=False)))


def score(test: LabeledTexts, predicted: list[tuple[str, ...]], labels: tuple[str, ...]) -> dict:
    assert test.label_sets is not None
    m = compute_multilabel_metrics(indicator(test.label_sets, labels), indicator(predicted, labels))
    return {
        "micro_f1": m.f1,
        "macro_f1": m.macro_f1,
        "hamming_accuracy": m.accuracy,
        "subset_accuracy": m.subset_accuracy,
        "micro_precision": m.precision,
        "micro_recall": m.recall,
    }


def run_frozen(train: LabeledTexts, test: LabeledTexts, seed: int, labels: tuple) -> dict:
    """The frozen small model, one logistic regression per label (the recipe's head settings),
    threshold 0.5, fitted on all the training rows."""
    from core.model.catalogue import load_model
    from core.model.heads import encode, fit_multilabel_head

    assert train.label_sets is not None
    started = time.perf_counter()
    model = load_model("small", device="cpu")
    classes = train.classes
    head = fit_multilabel_head(
        encode(model, train.texts), indicator(train.label_sets, classes), TrainConfig(seed=seed)
    )
    seconds = time.perf_counter() - started
    chosen = head.predict(encode(model, test.texts)).astype(bool)
    predicted = [tuple(np.asarray(classes, dtype=object)[row]) for row in chosen]
    return {**score(test, predicted, labels), "train_s": seconds}


def run_frozen_thresholds(
    train: LabeledTexts, test: LabeledTexts, seed: int, labels: tuple
) -> dict:
    """Embedtune's baseline alone: the frozen model's one-vs-rest heads with per-label
    thresholds chosen on the same validation split as the finetune, then refitted on all rows."""
    from core.model.catalogue import load_model
    from core.model.heads import encode, fit_multilabel_head
    from core.train.multilabel import fit_thresholded_head

    started = time.perf_counter()
    model = load_model("small", device="cpu")
    data = split(train, seed=seed)
    classes = data.classes
    config = TrainConfig(seed=seed)
    x_train, x_valid = encode(model, data.train.texts), encode(model, data.valid.texts)
    y_train = indicator(data.train.row_labels, classes)
    y_valid = indicator(data.valid.row_labels, classes)
    head, _ = fit_thresholded_head(x_train, y_train, x_valid, y_valid, classes, config)
    assert head.thresholds_ is not None
    head = fit_multilabel_head(
        np.vstack([x_train, x_valid]), np.vstack([y_train, y_valid]), config
    ).with_thresholds(head.thresholds_)
    seconds = time.perf_counter() - started
    chosen = head.predict(encode(model, test.texts)).astype(bool)
    predicted = [tuple(np.asarray(classes, dtype=object)[row]) for row in chosen]
    return {**score(test, predicted, labels), "train_s": seconds}


def run_setfit(train: LabeledTexts, test: LabeledTexts, seed: int, labels: tuple) -> dict:
    """SetFit's paper recipe (20 pair iterations, 1 epoch, batch 16) with one-vs-rest heads."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from core.model.catalogue import model_path

    assert train.label_sets is not None
    classes = train.classes
    started = time.perf_counter()
    model = SetFitModel.from_pretrained(
        str(model_path("small")), multi_target_strategy="one-vs-rest", device="cpu"
    )
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="setfit-"),
        num_iterations=20,
        num_epochs=1,
        batch_size=16,
        seed=seed,
        report_to="none",
    )
    y = indicator(train.label_sets, classes).tolist()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"text": list(train.texts), "label": y}),
        metric=lambda y_pred, y_test: {"accuracy": 0.0},  # not used; offline-safe
    )
    trainer.train()
    seconds = time.perf_counter() - started
    chosen = np.asarray(model.predict(list(test.texts))).astype(bool)
    predicted = [tuple(np.asarray(classes, dtype=object)[row]) for row in chosen]
    return {**score(test, predicted, labels), "train_s": seconds}


def run_embedtune(
    train: LabeledTexts, test: LabeledTexts, seed: int, labels: tuple, overrides: dict
) -> dict:
    from core.model.classifier import Classifier
    from core.train.recipe import train as train_model

    started = time.perf_counter()
    config = TrainConfig.from_dict({**TrainConfig().to_dict(), **overrides, "seed": seed})
    with tempfile.TemporaryDirectory() as workdir:
        result = train_model(config, split(train, seed=seed), Path(workdir))
    assert result is not None
    seconds = time.perf_counter() - started
    classifier = Classifier(result.model, result.head, result.labels, result.cleaning)
    predicted = classifier.predict_labels(list(test.texts))
    best = max(result.history, key=lambda p: p["metrics"]["f1"])
    return {
        **score(test, predicted, labels),
        "train_s": seconds,
        "valid_micro_f1": result.final.metrics.f1,
        "baseline_valid_micro_f1": result.baseline.metrics.f1,
        "finetune_kept": result.finetune_kept,
        "best_epoch": best["epoch"],
        "epochs_run": result.history[-1]["epoch"],
    }


def summarise(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    rows = [r for r in rows if not r.get("meta")]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = [
        "| method | seeds | micro-F1 | macro-F1 | Hamming acc. | subset acc. | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        mine = [r for r in rows if r["method"] == m]

        def cell(key: str, mine: list = mine) -> str:
            values = [r[key] for r in mine]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.3f} ± {spread:.3f}"

        seeds = ",".join(str(r["seed"]) for r in mine)
        secs = statistics.mean(r["train_s"] for r in mine)
        lines.append(
            f"| {m} | {seeds} | {cell('micro_f1')} | {cell('macro_f1')} | "
            f"{cell('hamming_accuracy')} | {cell('subset_accuracy')} | {secs:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="frozen,embedtune,setfit")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--set", action="append", default=[], help="TrainConfig override k=v")
    parser.add_argument("--tag", default="", help="label for this Embedtune variant")
    parser.add_argument("--out", type=Path, default=Path("bench/out/multilabel.jsonl"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--summary", action="store_true", help="only print the table of --out")
    args = parser.parse_args()
    if args.summary:
        print(summarise(args.out))
        return
    overrides = {
        k: json.loads(v) if v[:1] in "0123456789-[{tfn" else v
        for k, _, v in (item.partition("=") for item in args.set)
    }
    import torch

    torch.set_num_threads(args.threads)
    full = read_labeled(DATA / "train.jsonl", multi_label=True)
    test = sample(read_labeled(DATA / "test.jsonl", multi_label=True), MAX_TEST, 0)
    labels = full.classes
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            r = json.loads(line)
            if not r.get("meta"):
                done.add((r["seed"], r["method"]))
    wrote_meta = False
    for seed in [int(s) for s in args.seeds.split(",")]:
        train = sample(full, args.rows, seed)
        for method in args.methods.split(","):
            label = f"{method}{args.tag}"
            if (seed, label) in done:
                continue
            if method == "frozen":
                result = run_frozen(train, test, seed, labels)
            elif method == "frozen_thresholds":
                result = run_frozen_thresholds(train, test, seed, labels)
            elif method == "setfit":
                result = run_setfit(train, test, seed, labels)
            elif method == "embedtune":
                result = run_embedtune(train, test, seed, labels, overrides)
            else:
                raise SystemExit(f"unknown method {method!r}")
            record = {
                "dataset": "goemotions",
                "seed": seed,
                "method": label,
                "rows": len(train),
                "labels_in_sample": len(train.classes),
                "test_rows": len(test),
                "overrides": overrides if method == "embedtune" else {},
                **result,
            }
            print(json.dumps(record), flush=True)
            with args.out.open("a") as f:
                if not wrote_meta:
                    f.write(json.dumps({**meta(args.threads), "argv": sys.argv[1:]}) + "\n")
                    wrote_meta = True
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()

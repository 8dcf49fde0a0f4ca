"""Accuracy benchmark: frozen embeddings + logistic regression, SetFit, and Embedtune, side by side.

Same training rows, same test rows and the same small base model for every method, in one run:

    python bench/accuracy.py --datasets sst2,emotion --seeds 0,1,2 --methods frozen,setfit,embedtune

`--methods fastfit` runs FastFit (fast-fit 1.2.1) in its own environment, `.venv-fastfit`
(bench/requirements-fastfit.txt; see bench/fastfit_run.py).

Each result is appended as one JSON line to --out (default bench/out/accuracy.jsonl), so a long
run can be resumed (finished (data set, seed, method) triples are skipped) and summarised with
`--summary`. SetFit comes from requirements-bench.txt, not the app's requirements.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.machine import meta  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.data.files import read_labeled_csv  # noqa: E402
from core.data.labeled import LabeledTexts, split  # noqa: E402
from core.env import set_offline_env  # noqa: E402
from core.train.metrics import compute_metrics  # noqa: E402

set_offline_env()

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DATASETS = {
    "sst2": "sst2",
    "amazon": "uci-sentiment/amazon",
    "imdb": "uci-sentiment/imdb",
    "yelp": "uci-sentiment/yelp",
    "emotion": "emotion",
    "sms-spam": "sms-spam",
    "clinc150": "clinc150",
    "hwu64": "hwu64",
}
MAX_TEST = 2000
RESULTS = Path(__file__).resolve().parent / "results"
# The stored runs of the other methods (same samples: sampling is seeded), so that a recipe
# change re-runs only Embedtune: --summary adds their rows of these methods.
ANCHORS = {
    "setfit": RESULTS / "accuracy-setfit.jsonl",
    "fastfit": RESULTS / "fastfit-clinc150.jsonl",
}


def stratified_sample(data: LabeledTexts, size: int, seed: int) -> LabeledTexts:
    """A stratified random sample of `size` rows (all rows when there are fewer)."""
    from sklearn.model_selection import train_test_split

    if size >= len(data):
        return data
    picked, _ = train_test_split(
        np.arange(len(data)), train_size=size, stratify=list(data.labels), random_state=seed
    )
    return data.subset(sorted(int(i) for i in picked))


def score(y_true: list[str], y_pred: list[str], labels: tuple[str, ...]) -> dict[str, float]:
    m = compute_metrics(y_true, y_pred, labels)
    return {"accuracy": m.accuracy, "macro_f1": m.macro_f1}


def run_frozen(
    train: LabeledTexts,
    test: LabeledTexts,
    seed: int,
    overrides: dict[str, object],
    device: str = "cpu",
) -> dict[str, float]:
    """The base model with the recipe's head (its settings from `overrides`, like Embedtune's):
    the baseline every finetune is measured against."""
    from core.model.catalogue import load_model
    from core.model.heads import encode, fit_head
    from core.train.label_names import with_label_names

    labels = train.classes
    index = {label: i for i, label in enumerate(labels)}
    config = TrainConfig.from_dict({**TrainConfig().to_dict(), "seed": seed, **overrides})
    started = time.perf_counter()
    model = load_model("small", device=device)
    texts, y, _ = with_label_names(
        train.texts, np.array([index[label] for label in train.labels]), labels, config.label_names
    )
    head = fit_head(encode(model, texts), y, config)
    seconds = time.perf_counter() - started
    predicted = [labels[i] for i in head.predict(encode(model, test.texts))]
    return {**score(list(test.labels), predicted, labels), "train_s": seconds}


def run_setfit(
    train: LabeledTexts, test: LabeledTexts, seed: int, device: str = "cpu"
) -> dict[str, float]:
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from core.model.catalogue import model_path

    started = time.perf_counter()
    model = SetFitModel.from_pretrained(str(model_path("small")), device=device)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="setfit-"),  # not ./checkpoints in the repository
        num_iterations=20,
        num_epochs=1,
        batch_size=16,
        seed=seed,
        report_to="none",
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"text": list(train.texts), "label": list(train.labels)}),
        metric=lambda y_pred, y_test: {
            "accuracy": float(np.mean(np.asarray(y_pred) == np.asarray(y_test)))
        },
    )
    trainer.train()
    seconds = time.perf_counter() - started
    predicted = [str(p) for p in model.predict(list(test.texts))]
    return {**score(list(test.labels), predicted, train.classes), "train_s": seconds}


FASTFIT_PYTHON = Path(__file__).resolve().parent.parent / ".venv-fastfit" / "bin" / "python"


def run_fastfit(
    train: LabeledTexts, test: LabeledTexts, seed: int, epochs: int
) -> dict[str, float]:
    """FastFit (IBM, fast-fit 1.2.1) in its own virtual environment (.venv-fastfit, from
    bench/requirements-fastfit.txt): bench/fastfit_run.py trains on the rows and predicts the
    test rows; its time is the training only, like the other methods'."""
    import subprocess

    from core.model.catalogue import model_path

    if not FASTFIT_PYTHON.exists():
        raise SystemExit(
            f"{FASTFIT_PYTHON} is missing: python3 -m venv .venv-fastfit && "
            ".venv-fastfit/bin/pip install -r bench/requirements-fastfit.txt"
        )
    with tempfile.TemporaryDirectory(prefix="fastfit-bench-") as folder:
        rows, out = Path(folder) / "rows.json", Path(folder) / "out.json"
        rows.write_text(
            json.dumps(
                {
                    "train": list(zip(train.texts, train.labels, strict=True)),
                    "test": list(zip(test.texts, test.labels, strict=True)),
                }
            ),
            encoding="utf-8",
        )
        command = [str(FASTFIT_PYTHON), str(Path(__file__).with_name("fastfit_run.py"))]
        command += ["--data", str(rows), "--model", str(model_path("small")), "--out", str(out)]
        command += ["--seed", str(seed), "--epochs", str(epochs)]
        subprocess.run(command, check=True)
        result = json.loads(out.read_text(encoding="utf-8"))
    return {
        **score(list(test.labels), result["predictions"], train.classes),
        "train_s": result["train_s"],
        "epochs": result["epochs"],
    }


# Rules that judge a finetune against its base model on validation (`--keep`): "always" keeps
# every finetune, so one run gives the test score of the finetune whatever a rule would choose.
KEEP_RULES = {"always": lambda final, baseline: True}


def run_embedtune(
    train: LabeledTexts,
    test: LabeledTexts,
    seed: int,
    overrides: dict[str, object],
    device: str = "cpu",
    keep: str | None = None,
    checkpoint: str | None = None,
) -> dict[str, float]:
    from core.model.classifier import Classifier
    from core.train.recipe import train as train_model
    from core.train.task import gain_intervals

    started = time.perf_counter()
    config = TrainConfig.from_dict({**TrainConfig().to_dict(), "device": device, **overrides})
    rule = {} if keep is None else {"keep": KEEP_RULES[keep]}
    if checkpoint is not None:
        rule["checkpoint_metric"] = checkpoint
    with tempfile.TemporaryDirectory() as workdir:
        result = train_model(config, split(train, seed=seed), Path(workdir), **rule)
    seconds = time.perf_counter() - started
    classifier = Classifier(result.model, result.head, result.labels, result.cleaning)
    predicted = classifier.predict(list(test.texts))
    best_epoch = max(result.history, key=lambda p: p["metrics"]["macro_f1"])["epoch"]
    gain = gain_intervals(result.final, result.baseline).get("macro_f1")
    return {
        "valid_rows": result.final.n,
        "valid_log_loss": result.valid_log_loss and result.valid_log_loss[0],
        "baseline_valid_log_loss": result.valid_log_loss and result.valid_log_loss[1],
        "valid_gain_interval": gain and [round(gain[0], 4), round(gain[1], 4)],
        **score(list(test.labels), predicted, train.classes),
        "train_s": seconds,
        "valid_macro_f1": result.final.metrics.macro_f1,
        "baseline_valid_macro_f1": result.baseline.metrics.macro_f1,
        "finetune_kept": result.finetune_kept,
        "best_epoch": best_epoch,
        "epochs_run": result.history[-1]["epoch"],
    }


def parse_overrides(items: list[str]) -> dict[str, object]:
    overrides: dict[str, object] = {}
    for item in items:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
    return overrides


def summarise(paths: list[Path], anchors: dict[str, Path] | None = None) -> str:
    """A markdown table: mean ± spread (sample std) over seeds, per data set and method."""
    rows = read_rows(paths, anchors)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    head = ["data set"] + [f"{m} macro-F1" for m in methods] + [f"{m} s" for m in methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    means: dict[str, list[float]] = {m: [] for m in methods}
    for ds in datasets:
        cells_f1, cells_s = [], []
        for m in methods:
            f1 = [r["macro_f1"] for r in rows if r["dataset"] == ds and r["method"] == m]
            secs = [r["train_s"] for r in rows if r["dataset"] == ds and r["method"] == m]
            if not f1:
                cells_f1.append("-")
                cells_s.append("-")
                continue
            spread = statistics.stdev(f1) if len(f1) > 1 else 0.0
            means[m].append(statistics.mean(f1))
            cells_f1.append(f"{statistics.mean(f1):.3f} ± {spread:.3f} (n={len(f1)})")
            cells_s.append(f"{statistics.mean(secs):.0f}")
        lines.append("| " + " | ".join([ds, *cells_f1, *cells_s]) + " |")
    # A mean over fewer sets than the table's would not compare: say how many it covers.
    avg = [
        "-"
        if not v
        else f"{statistics.mean(v):.3f}"
        if len(v) == len(datasets)
        else f"{statistics.mean(v):.3f} ({len(v)} of {len(datasets)} sets)"
        for v in means.values()
    ]
    lines.append("| **mean** | " + " | ".join(avg + [""] * len(methods)) + " |")
    return "\n".join(lines)


def read_rows(paths: list[Path], anchors: dict[str, Path] | None = None) -> list[dict]:
    """The results in the files, without their "meta" lines; with `anchors` (method -> file),
    also that method's rows from its stored file, where the files hold none of it."""
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line]
    rows = [row for row in rows if not row.get("meta")]
    have = {row["method"] for row in rows}
    for method, path in (anchors or {}).items():
        if method in have or not path.exists():
            continue
        stored = read_rows([path])
        rows += [row for row in stored if row["method"] == method]
    return rows


def paired(rows: list[dict], reference: str = "setfit", method: str = "embedtune") -> str:
    """`method` against `reference` on the (data set, seed) pairs where both ran: per data set
    the mean macro-F1 of frozen / reference / method over those seeds, the difference (and its
    worst seed), and the training-time ratio, summed over the same seeds."""
    by_key = {(r["dataset"], r["seed"], r["method"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    lines = [
        f"| data set | seeds | frozen | {reference} | {method} | {method} − {reference} "
        f"(worst seed) | {reference} s | {method} s | time ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    totals: dict[str, list[float]] = {"frozen": [], reference: [], method: [], "diff": []}
    for ds in datasets:
        seeds = sorted(
            s for (d, s, m) in by_key if d == ds and m == method and (ds, s, reference) in by_key
        )
        if not seeds:
            continue

        def mean_of(m: str, ds: str = ds, seeds: list[int] = seeds) -> float:
            values = [by_key[(ds, s, m)]["macro_f1"] for s in seeds if (ds, s, m) in by_key]
            return statistics.mean(values) if values else float("nan")

        diffs = [
            by_key[(ds, s, method)]["macro_f1"] - by_key[(ds, s, reference)]["macro_f1"]
            for s in seeds
        ]
        ref_s = sum(by_key[(ds, s, reference)]["train_s"] for s in seeds)
        our_s = sum(by_key[(ds, s, method)]["train_s"] for s in seeds)
        frozen, ref, ours = mean_of("frozen"), mean_of(reference), mean_of(method)
        for key, value in (("frozen", frozen), (reference, ref), (method, ours)):
            totals[key].append(value)
        totals["diff"].append(statistics.mean(diffs))
        lines.append(
            f"| {ds} | {','.join(map(str, seeds))} | {frozen:.3f} | {ref:.3f} | {ours:.3f} | "
            f"{statistics.mean(diffs):+.3f} ({min(diffs):+.3f}) | {ref_s / len(seeds):,.0f} | "
            f"{our_s / len(seeds):,.0f} | {our_s / ref_s:.3f} |"
        )
    if totals["diff"]:
        lines.append(
            f"| **mean** | | {statistics.mean(totals['frozen']):.3f} | "
            f"{statistics.mean(totals[reference]):.3f} | **{statistics.mean(totals[method]):.3f}**"
            f" | **{statistics.mean(totals['diff']):+.3f}** | | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="frozen,setfit,embedtune")
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps (the same for all)")
    parser.add_argument("--set", action="append", default=[], help="TrainConfig override k=v")
    parser.add_argument("--tag", default="", help="label for this Embedtune variant")
    parser.add_argument(
        "--keep",
        choices=sorted(KEEP_RULES),
        help="judge the finetune against its base model by this rule instead of the recipe's",
    )
    parser.add_argument(
        "--checkpoint",
        choices=["macro_f1", "log_loss"],
        help="what chooses the finetune's best checkpoint on validation (default: the recipe's)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out/accuracy.jsonl"))
    parser.add_argument("--summary", action="store_true", help="only print the table of --out")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--fastfit-epochs",
        type=int,
        default=10,
        help="FastFit's epochs (its README uses 40: about 40 minutes a run on 2 CPU cores)",
    )
    parser.add_argument(
        "--against",
        default="",
        help="with --summary: also the paired table of embedtune against this method",
    )
    parser.add_argument(
        "--also", type=Path, action="append", default=[], help="with --summary: more results"
    )
    parser.add_argument(
        "--no-anchors",
        action="store_true",
        help="with --summary: leave out the stored SetFit and FastFit runs (bench/results)",
    )
    args = parser.parse_args()
    if args.summary:
        paths = [args.out, *args.also]
        anchors = {} if args.no_anchors else ANCHORS
        print(summarise(paths, anchors))
        if args.against:
            print()
            print(paired(read_rows(paths, anchors), args.against))
        return
    overrides = parse_overrides(args.set)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.out.exists():
        for r in read_rows([args.out]):
            done.add((r["dataset"], r["seed"], r["method"]))
    import torch

    torch.set_num_threads(args.threads)
    wrote_meta = False
    for name in args.datasets.split(","):
        folder = DATA / DATASETS[name]
        full_train = read_labeled_csv(folder / "train.csv")
        test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
        for seed in [int(s) for s in args.seeds.split(",")]:
            train = stratified_sample(full_train, args.rows, seed)
            for method in args.methods.split(","):
                label = f"{method}{args.tag}"
                if (name, seed, label) in done:
                    continue
                if method == "frozen":
                    result = run_frozen(train, test, seed, overrides, args.device)
                elif method == "setfit":
                    result = run_setfit(train, test, seed, args.device)
                elif method == "fastfit":
                    result = run_fastfit(train, test, seed, args.fastfit_epochs)
                elif method == "embedtune":
                    result = run_embedtune(
                        train, test, seed, overrides, args.device, args.keep, args.checkpoint
                    )
                else:
                    raise SystemExit(f"unknown method {method!r}")
                record = {
                    "dataset": name,
                    "seed": seed,
                    "method": label,
                    "rows": len(train),
                    "device": args.device,
                    "test_rows": len(test),
                    "overrides": overrides if method in ("embedtune", "frozen") else {},
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

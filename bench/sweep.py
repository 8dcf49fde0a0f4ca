"""Size sweep: how finetuning time and peak memory grow with the number of training rows.

    python bench/sweep.py [--dataset sst2] [--sizes 250,500,2000,8000] [--epochs 2]

Each size trains in its own process (so its peak resident memory is its own) with the default
recipe except a fixed number of epochs: early stopping would make the number of epochs, not the
rows, decide the time. Also prints how many pairs SetFit 1.2.0 would train on at each size, with
its paper recipe (`num_iterations=20`) and with its newer default (every pair, "oversampling"),
counted from the class sizes as SetFit's sampler counts them (checked against it).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.accuracy import DATA, DATASETS, MAX_TEST, stratified_sample  # noqa: E402
from bench.speed import StepClock  # noqa: E402
from core.data.files import read_labeled_csv  # noqa: E402
from core.env import set_offline_env  # noqa: E402

set_offline_env()


def child(dataset: str, rows: int, epochs: int) -> dict[str, Any]:
    """Train on `rows` rows in this process; wall time, finetune throughput, peak memory."""
    from core.config import TrainConfig
    from core.data.labeled import split
    from core.model.classifier import Classifier
    from core.train.metrics import compute_metrics
    from core.train.recipe import train

    folder = DATA / DATASETS[dataset]
    sample = stratified_sample(read_labeled_csv(folder / "train.csv"), rows, 0)
    test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
    config = TrainConfig.from_dict({**TrainConfig().to_dict(), "device": "cpu", "epochs": epochs})
    data = split(sample, seed=0)
    clock = StepClock()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        result = train(config, data, Path(workdir), reporter=clock)
    seconds = time.perf_counter() - started
    (first, t0), (last, t1) = clock.steps[0], clock.steps[-1]
    classifier = Classifier(result.model, result.head, result.labels, result.cleaning)
    metrics = compute_metrics(list(test.labels), classifier.predict(list(test.texts)), test.classes)
    return {
        "dataset": dataset,
        "rows": rows,
        "train_rows": len(data.train),
        "epochs": epochs,
        "train_s": seconds,
        "finetune_s": t1 - t0,
        "steps": last - first,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "test_macro_f1": metrics.macro_f1,
    }


def setfit_pairs(labels: list[str]) -> dict[str, int]:
    """Pairs SetFit 1.2.0 trains on: paper recipe (`num_iterations=20`) and its default.

    Its sampler pairs every row with every row, itself included (`shuffle_combinations` with
    replacement), and "oversampling" repeats the smaller of the positive and negative sets up to
    the larger, so the default is 2 * max(positives, negatives) pairs: quadratic in the rows.
    Counted from the class sizes, because materialising the pairs of 8,000 rows takes more
    memory than this machine has; `check_setfit_pairs` checks the count against the sampler."""
    sizes = Counter(labels).values()
    positive = sum(n * (n + 1) // 2 for n in sizes)
    negative = (sum(sizes) ** 2 - sum(n * n for n in sizes)) // 2
    return {"paper": 2 * 20 * len(labels), "default": 2 * max(positive, negative)}


def check_setfit_pairs(texts: list[str], labels: list[str]) -> None:
    from setfit.sampler import ContrastiveDataset

    counted = setfit_pairs(labels)
    paper = ContrastiveDataset(texts, labels, multilabel=False, num_iterations=20)
    default = ContrastiveDataset(texts, labels, multilabel=False)
    assert counted == {"paper": len(paper), "default": len(default)}, (counted, len(default))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sst2", choices=list(DATASETS))
    parser.add_argument("--sizes", default="250,500,2000,8000")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/out/sweep.jsonl"))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.dataset, args.child, args.epochs)), flush=True)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sizes = [int(n) for n in args.sizes.split(",")]
    for rows in sizes:
        command = [sys.executable, __file__, "--dataset", args.dataset, "--epochs"]
        command += [str(args.epochs), "--child", str(rows)]
        done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
        record = json.loads(done.stdout.strip().splitlines()[-1])
        folder = DATA / DATASETS[args.dataset]
        sample = stratified_sample(read_labeled_csv(folder / "train.csv"), rows, 0)
        if rows == min(sizes):
            check_setfit_pairs(list(sample.texts), list(sample.labels))
        record["setfit_pairs"] = setfit_pairs(list(sample.labels))
        print(json.dumps(record), flush=True)
        with args.out.open("a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()

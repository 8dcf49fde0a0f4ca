"""bf16 training against fp32: the shipped recipe on the shared sets, both precisions side by side.

    flock /tmp/embedtune-heavy.lock .venv/bin/python bench/bf16.py --seeds 0,1,2 --threads 2

Each (seed, data set) pair runs the same finetune twice, `precision="fp32"` and
`precision="auto"` (bf16 autocast on a CPU that has it), one after the other and in alternating
order, so that whatever else loads the machine hits both alike. Seeds are the outer loop, so an
interrupted run still has whole seeds. Each result is one JSON line in --out (resumable);
`--summary` prints the per-set table of docs/BENCHMARKS.md ("bf16 training").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.accuracy import DATA, DATASETS, MAX_TEST, run_embedtune, stratified_sample  # noqa: E402
from bench.machine import meta  # noqa: E402
from core.data.files import read_labeled_csv  # noqa: E402

# The seven single-label shared sets of the recipe's tables (hwu64 came later).
SETS = ("sst2", "amazon", "imdb", "yelp", "emotion", "sms-spam", "clinc150")
PRECISIONS = ("fp32", "auto")
OUT = Path(__file__).resolve().parent / "results" / "bf16-training.jsonl"


def run(sets: list[str], seeds: list[int], rows: int, out: Path, threads: int) -> None:
    import torch

    from core.model.catalogue import choose_device, cpu_supports_bf16

    torch.set_num_threads(threads)
    done = {(r["dataset"], r["seed"], r["precision"]) for r in read(out)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(
            json.dumps(
                {
                    **meta(threads),
                    "cpu_supports_bf16": cpu_supports_bf16(),
                    "argv": sys.argv[1:],
                }
            )
            + "\n"
        )
    turn = 0
    for seed in seeds:
        for name in sets:
            folder = DATA / DATASETS[name]
            train = stratified_sample(read_labeled_csv(folder / "train.csv"), rows, seed)
            test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
            order = PRECISIONS if turn % 2 == 0 else PRECISIONS[::-1]
            turn += 1
            for precision in order:
                if (name, seed, precision) in done:
                    continue
                overrides = {"seed": seed, "precision": precision}
                load = os.getloadavg()[0]
                started = time.process_time()
                result = run_embedtune(train, test, seed, overrides)
                record = {
                    "dataset": name,
                    "seed": seed,
                    "precision": precision,
                    "device": choose_device("cpu", precision).describe(),
                    "rows": len(train),
                    "test_rows": len(test),
                    **result,
                    "cpu_s": time.process_time() - started,
                    "load_before": round(load, 2),
                    "load_after": round(os.getloadavg()[0], 2),
                }
                print(json.dumps(record), flush=True)
                with out.open("a") as f:
                    f.write(json.dumps(record) + "\n")


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    return [row for row in rows if not row.get("meta")]


def summary(path: Path) -> str:
    """Per set: mean test macro-F1 of fp32 and bf16 over the seeds both ran, the difference
    (mean and its range over seeds), the seed-to-seed spread of fp32, the time ratio (bf16 /
    fp32 wall seconds, summed over seeds) and the ratio per epoch run (early stopping can end
    the two at different epochs)."""
    by = {(r["dataset"], r["seed"], r["precision"]): r for r in read(path)}
    lines = [
        "| data set | seeds | fp32 macro-F1 | bf16 macro-F1 | bf16 − fp32 (range) "
        "| fp32 seed sd | fp32 s | bf16 s | time ratio | per epoch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    means: dict[str, list[float]] = {"fp32": [], "auto": [], "diff": [], "sd": []}
    totals = {"fp32": 0.0, "auto": 0.0, "fp32_ep": 0.0, "auto_ep": 0.0}
    for name in dict.fromkeys(d for d, _, _ in by):
        seeds = sorted(s for d, s, p in by if d == name and p == "fp32" and (d, s, "auto") in by)
        if not seeds:
            continue
        f1 = {p: [by[(name, s, p)]["macro_f1"] for s in seeds] for p in PRECISIONS}
        secs = {p: sum(by[(name, s, p)]["train_s"] for s in seeds) for p in PRECISIONS}
        per_epoch = {
            p: sum(by[(name, s, p)]["train_s"] / by[(name, s, p)]["epochs_run"] for s in seeds)
            for p in PRECISIONS
        }
        diffs = [b - a for a, b in zip(f1["fp32"], f1["auto"], strict=True)]
        sd = statistics.stdev(f1["fp32"]) if len(seeds) > 1 else float("nan")
        means["fp32"].append(statistics.mean(f1["fp32"]))
        means["auto"].append(statistics.mean(f1["auto"]))
        means["diff"].append(statistics.mean(diffs))
        means["sd"].append(sd)
        totals["fp32"] += secs["fp32"]
        totals["auto"] += secs["auto"]
        totals["fp32_ep"] += per_epoch["fp32"]
        totals["auto_ep"] += per_epoch["auto"]
        lines.append(
            f"| {name} | {','.join(map(str, seeds))} | {statistics.mean(f1['fp32']):.3f} | "
            f"{statistics.mean(f1['auto']):.3f} | {100 * statistics.mean(diffs):+.1f} "
            f"({100 * min(diffs):+.1f} to {100 * max(diffs):+.1f}) | {100 * sd:.1f} | "
            f"{secs['fp32'] / len(seeds):.0f} | {secs['auto'] / len(seeds):.0f} | "
            f"{secs['fp32'] / secs['auto']:.2f}x | {per_epoch['fp32'] / per_epoch['auto']:.2f}x |"
        )
    if means["diff"]:
        lines.append(
            f"| **mean** | | **{statistics.mean(means['fp32']):.3f}** | "
            f"**{statistics.mean(means['auto']):.3f}** | "
            f"**{100 * statistics.mean(means['diff']):+.1f}** | "
            f"{100 * statistics.mean(means['sd']):.1f} | | | "
            f"**{totals['fp32'] / totals['auto']:.2f}x** | "
            f"{totals['fp32_ep'] / totals['auto_ep']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--summary", action="store_true", help="only print the table of --out")
    args = parser.parse_args()
    if args.summary:
        print(summary(args.out))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    run(args.datasets.split(","), seeds, args.rows, args.out, args.threads)


if __name__ == "__main__":
    main()

"""bf16 training against fp32: the shipped recipe on the shared sets, both precisions side by side.

    flock /tmp/embedtune-heavy.lock .venv/bin/python bench/bf16.py --seeds 0,1,2 --threads 2

Each (seed, data set) pair runs the same finetune twice, `precision="fp32"` and
`precision="auto"` (bf16 autocast on a CPU that has it), one after the other and in alternating
order, so that whatever else loads the machine hits both alike. Seeds are the outer loop, so an
interrupted run still has whole seeds. Each result is one JSON line in --out (resumable);
`--summary` prints the per-set table of docs/BENCHMARKS.md ("bf16 training"). `--speed` times
training steps and encodes alone, both precisions in alternating blocks on the same batches.
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
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                print(json.dumps(record), flush=True)
                with out.open("a") as f:
                    f.write(json.dumps(record) + "\n")


# The variants --speed times: fp32; bf16 as the recipe runs it (autocast, attention's backward
# on SDPA's math kernel: core.model.catalogue.training_kernels); bf16 autocast alone (PyTorch's
# CPU flash-attention kernel).
VARIANTS = ("fp32", "bf16", "bf16-flash")


def speed(name: str, threads: int, blocks: int, out: Path) -> dict:
    """Training steps and encodes of the small model in each variant, in rotating blocks on the
    same batches, so that other work on the machine hits all alike: the median wall and CPU
    seconds per step (batch 16, fused AdamW, the whole body trained) and per 32 texts encoded."""
    import contextlib
    import random

    import torch

    from core.model.catalogue import DeviceInfo, load_model, training_kernels

    torch.set_num_threads(threads)
    texts = list(read_labeled_csv(DATA / DATASETS[name] / "train.csv").texts)
    rng = random.Random(0)
    batches = [rng.sample(texts, 16) for _ in range(5 * blocks)]
    encode_texts = rng.sample(texts, 128)
    model = load_model("small", device="cpu")
    head = torch.nn.Linear(model.get_embedding_dimension() or 384, 2)
    # Fused, as the trainer's default optimizer (adamw_torch_fused) is.
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-5, fused=True)

    def contexts(variant: str) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        if variant != "fp32":
            stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
        if variant == "bf16":
            stack.enter_context(training_kernels(DeviceInfo("cpu", "CPU", "bf16")))
        return stack

    def step(batch: list[str], variant: str) -> None:
        features = model.preprocess(batch)
        with contexts(variant):
            embeddings = model(features)["sentence_embedding"]
            target = torch.zeros(len(batch), dtype=torch.long)
            torch.nn.functional.cross_entropy(head(embeddings.float()), target).backward()
        optimizer.step()
        optimizer.zero_grad()

    times: dict[str, list[float]] = {}
    for k in range(blocks):
        for variant in VARIANTS[k % 3 :] + VARIANTS[: k % 3]:
            wall, cpu = time.perf_counter(), time.process_time()
            for batch in batches[5 * k : 5 * k + 5]:
                step(batch, variant)
            times.setdefault(f"{variant}_step_s", []).append((time.perf_counter() - wall) / 5)
            times.setdefault(f"{variant}_step_cpu_s", []).append((time.process_time() - cpu) / 5)
            wall, cpu = time.perf_counter(), time.process_time()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant != "fp32"):
                model.encode(encode_texts, batch_size=32)
            times.setdefault(f"{variant}_encode32_s", []).append((time.perf_counter() - wall) / 4)
            cpu_s = (time.process_time() - cpu) / 4
            times.setdefault(f"{variant}_encode32_cpu_s", []).append(cpu_s)
    medians = {key: round(statistics.median(values), 4) for key, values in times.items()}
    ratios = {
        f"{what}_ratio_{variant}": round(
            medians[f"fp32_{what}_s"] / medians[f"{variant}_{what}_s"], 3
        )
        for variant in VARIANTS[1:]
        for what in ("step", "step_cpu", "encode32")
    }
    record = {
        "kind": "speed",
        "dataset": name,
        "threads": threads,
        "blocks": blocks,
        "optimizer": "AdamW fused",
        **medians,
        **ratios,
        "load_after": round(os.getloadavg()[0], 2),
        "raw": {key: [round(v, 4) for v in values] for key, values in times.items()},
    }
    print(json.dumps({k: v for k, v in record.items() if k != "raw"}), flush=True)
    with out.open("a") as f:
        f.write(json.dumps(record) + "\n")
    return record


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    return [row for row in rows if not row.get("meta") and row.get("kind") != "speed"]


def summary(path: Path) -> str:
    """Per set: mean test macro-F1 of fp32 and bf16 over the seeds both ran, the difference
    (mean and its range over seeds), the seed-to-seed spread of fp32, the time ratio (fp32 /
    bf16 wall seconds, summed over seeds) and the ratio per epoch run (early stopping can end the
    two at different epochs)."""
    by = {(r["dataset"], r["seed"], r["precision"]): r for r in read(path)}
    lines = [
        "| data set | seeds | fp32 macro-F1 | bf16 macro-F1 | bf16 − fp32, points (range) "
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
        diffs = [b - a for a, b in zip(f1["fp32"], f1["auto"], strict=True)]
        sd = statistics.stdev(f1["fp32"]) if len(seeds) > 1 else None
        means["fp32"].append(statistics.mean(f1["fp32"]))
        means["auto"].append(statistics.mean(f1["auto"]))
        means["diff"].append(statistics.mean(diffs))
        if sd is not None:
            means["sd"].append(sd)
        secs = {p: sum(by[(name, s, p)]["train_s"] for s in seeds) for p in PRECISIONS}
        per_epoch = {
            p: sum(by[(name, s, p)]["train_s"] / by[(name, s, p)]["epochs_run"] for s in seeds)
            for p in PRECISIONS
        }
        for key in ("fp32", "auto"):
            totals[key] += secs[key]
            totals[f"{key}_ep"] += per_epoch[key]
        time_cells = (
            f"{secs['fp32'] / len(seeds):.0f} | {secs['auto'] / len(seeds):.0f} | "
            f"{secs['fp32'] / secs['auto']:.2f}x | {per_epoch['fp32'] / per_epoch['auto']:.2f}x"
        )
        lines.append(
            f"| {name} | {','.join(map(str, seeds))} | {statistics.mean(f1['fp32']):.3f} | "
            f"{statistics.mean(f1['auto']):.3f} | {100 * statistics.mean(diffs):+.1f} "
            f"({100 * min(diffs):+.1f} to {100 * max(diffs):+.1f}) | "
            f"{'-' if sd is None else f'{100 * sd:.1f}'} | {time_cells} |"
        )
    if means["diff"]:
        noise = f"{100 * statistics.mean(means['sd']):.1f}" if means["sd"] else "-"
        ratio = f"**{totals['fp32'] / totals['auto']:.2f}x** | "
        ratio += f"{totals['fp32_ep'] / totals['auto_ep']:.2f}x"
        lines.append(
            f"| **mean** | | **{statistics.mean(means['fp32']):.3f}** | "
            f"**{statistics.mean(means['auto']):.3f}** | "
            f"**{100 * statistics.mean(means['diff']):+.2f}** | {noise} | | | {ratio} |"
        )
    return "\n".join(lines)


def speed_summary(path: Path) -> str:
    """The --speed records: median seconds per training step and per 32 texts encoded, and
    fp32's time over each bf16 variant's."""
    rows = [r for r in map(json.loads, path.read_text().splitlines()) if r.get("kind") == "speed"]
    lines = [
        "| data set | threads | optimizer | step fp32 s | step bf16 s | step bf16-flash s "
        "| step ratio bf16 (flash) | encode ratio bf16 (flash) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        # The first records timed torch's for-loop AdamW; the trainer's default is the fused one.
        optimizer = r.get("optimizer", "AdamW for-loop")
        lines.append(
            f"| {r['dataset']} | {r['threads']} | {optimizer} | {r['fp32_step_s']:.3f} | "
            f"{r['bf16_step_s']:.3f}"
            f" | {r['bf16-flash_step_s']:.3f} | {r['step_ratio_bf16']:.2f}x "
            f"({r['step_ratio_bf16-flash']:.2f}x) | {r['encode32_ratio_bf16']:.2f}x "
            f"({r['encode32_ratio_bf16-flash']:.2f}x) |"
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
    parser.add_argument(
        "--speed",
        action="store_true",
        help="time training steps and encodes, fp32 and bf16 alternating, for each data set",
    )
    parser.add_argument("--blocks", type=int, default=8, help="with --speed: blocks of 5 steps")
    args = parser.parse_args()
    if args.summary:
        print(summary(args.out))
        print()
        print(speed_summary(args.out))
        return
    if args.speed:
        from core.model.catalogue import cpu_supports_bf16

        with args.out.open("a") as f:
            meta_line = {**meta(args.threads), "cpu_supports_bf16": cpu_supports_bf16()}
            f.write(json.dumps({**meta_line, "argv": sys.argv[1:]}) + "\n")
        for name in args.datasets.split(","):
            speed(name, args.threads, args.blocks, args.out)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    run(args.datasets.split(","), seeds, args.rows, args.out, args.threads)


if __name__ == "__main__":
    main()

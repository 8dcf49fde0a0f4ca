"""Label-check benchmark: does find_label_issues find planted label errors, and does dropping the
flagged rows help the finetune?

    python bench/label_issues.py detect              # flip 5 % of labels, score the flags
    python bench/label_issues.py thresholds          # near-duplicate pairs per cosine threshold
    python bench/label_issues.py finetune --pairs sst2:0,emotion:0   # noisy vs cleaned macro-F1
    python bench/label_issues.py frozen --seeds 0    # the same with the frozen head only (cheap)
    python bench/label_issues.py time --rows 10000   # seconds and peak memory (fresh process)
    python bench/label_issues.py pairs --rows 20000  # the near-duplicate search alone
    python bench/label_issues.py summary

Results are appended as JSON lines to bench/out/label_issues.jsonl; finished items are skipped.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.accuracy import DATA, DATASETS, MAX_TEST, run_embedtune, stratified_sample  # noqa: E402
from core.data import LabeledTexts, read_labeled_csv  # noqa: E402
from core.label_issues import find_label_issues, near_duplicates  # noqa: E402

OUT = Path("bench/out/label_issues.jsonl")
ROWS = 1000
NOISE = 0.05
SEEDS = (0, 1, 2)
THRESHOLDS = (0.85, 0.9, 0.95, 0.98)


def flip(data: LabeledTexts, fraction: float, seed: int) -> tuple[LabeledTexts, set[int]]:
    """The data with `fraction` of the rows given another label at random; their row numbers."""
    rng = np.random.default_rng(1000 + seed)
    classes = data.classes
    picked = rng.choice(len(data), size=round(fraction * len(data)), replace=False)
    labels = list(data.labels)
    for i in picked.tolist():
        others = [label for label in classes if label != labels[i]]
        labels[i] = others[int(rng.integers(len(others)))]
    flipped = {data.rows[i] for i in picked.tolist()}
    return LabeledTexts(data.texts, tuple(labels), data.rows, data.name), flipped


def sample(name: str, seed: int) -> LabeledTexts:
    return stratified_sample(read_labeled_csv(DATA / DATASETS[name] / "train.csv"), ROWS, seed)


def done(kind: str, needs: str = "kind") -> set[tuple]:
    """(data set, seed) of the finished results of this kind (that have the key `needs`)."""
    if not OUT.exists():
        return set()
    rows = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]
    return {(r["dataset"], r["seed"]) for r in rows if r["kind"] == kind and needs in r}


def save(record: dict) -> None:
    print(json.dumps(record), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(record) + "\n")


def detect(datasets: list[str], model) -> None:
    finished = done("detect")
    for name in datasets:
        for seed in SEEDS:
            if (name, seed) in finished:
                continue
            noisy, flipped = flip(sample(name, seed), NOISE, seed)
            started = time.perf_counter()
            result = find_label_issues(noisy, model=model, cache=False, seed=seed)
            seconds = time.perf_counter() - started
            flagged = [issue.row for issue in result.issues]
            hits = len(set(flagged) & flipped)
            k = len(flipped)
            top = set(flagged[:k])
            save(
                {
                    "kind": "detect",
                    "dataset": name,
                    "seed": seed,
                    "rows": len(noisy),
                    "labels": len(noisy.classes),
                    "flipped": k,
                    "flagged": len(flagged),
                    "precision": hits / len(flagged) if flagged else 0.0,
                    "recall": hits / k,
                    "precision_at_k": len(top & flipped) / k,
                    "folds": result.folds,
                    "near_duplicates": len(result.near_duplicates) + result.more_pairs,
                    "conflicting_pairs": len(result.conflicting_pairs),
                    "seconds": round(seconds, 1),
                }
            )


def thresholds(datasets: list[str], model) -> None:
    from core.training import encode

    finished = done("thresholds")
    for name in datasets:
        if (name, 0) in finished:
            continue
        data = sample(name, 0)
        embeddings = encode(model, data.texts)
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        counts, examples = {}, {}
        for threshold in THRESHOLDS:
            pairs, more = near_duplicates(data, embeddings, threshold)
            counts[str(threshold)] = len(pairs) + more
            # the least similar pairs at this threshold: what it lets through at its edge
            edge = sorted(pairs, key=lambda p: p.similarity)[:3]
            examples[str(threshold)] = [[p.similarity, *p.texts] for p in edge]
        save(
            {
                "kind": "thresholds",
                "dataset": name,
                "seed": 0,
                "rows": len(data),
                "pairs": counts,
                "edge": examples,
            }
        )


def finetune(pairs: list[tuple[str, int]], model) -> None:
    finished = done("finetune")
    for name, seed in pairs:
        if (name, seed) in finished:
            continue
        folder = DATA / DATASETS[name]
        test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
        noisy, flipped = flip(sample(name, seed), NOISE, seed)
        result = find_label_issues(noisy, model=model, cache=False, seed=seed)
        flagged = {issue.row for issue in result.issues}
        cleaned = noisy.without_rows(flagged)
        scores = {}
        for variant, data in (("noisy", noisy), ("cleaned", cleaned)):
            started = time.perf_counter()
            scores[variant] = run_embedtune(data, test, seed, {})
            scores[variant]["wall_s"] = round(time.perf_counter() - started, 1)
        save(
            {
                "kind": "finetune",
                "dataset": name,
                "seed": seed,
                "rows": len(noisy),
                "flipped": len(flipped),
                "dropped": len(flagged),
                "dropped_flipped": len(flagged & flipped),
                "test_rows": len(test),
                "noisy_macro_f1": scores["noisy"]["macro_f1"],
                "cleaned_macro_f1": scores["cleaned"]["macro_f1"],
                "noisy": scores["noisy"],
                "cleaned": scores["cleaned"],
            }
        )


def frozen(datasets: list[str], seeds: list[int], model) -> None:
    """The cheap stand-in for `finetune`: the frozen-embedding head (no body finetune) trained on
    the noisy sample and on it without the flagged rows, scored on the test file."""
    from core.config import TrainConfig
    from core.metrics import compute_metrics
    from core.training import encode, fit_head

    finished = done("frozen", needs="relabelled_macro_f1")
    for name in datasets:
        folder = DATA / DATASETS[name]
        test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
        test_x = None
        for seed in seeds:
            if (name, seed) in finished:
                continue
            if test_x is None:
                test_x = encode(model, test.texts)
            noisy, flipped = flip(sample(name, seed), NOISE, seed)
            result = find_label_issues(noisy, model=model, cache=False, seed=seed)
            flagged = {issue.row for issue in result.issues}
            x = encode(model, noisy.texts)
            labels = noisy.classes
            index = {label: i for i, label in enumerate(labels)}
            suggested = {issue.row: issue.suggested_label for issue in result.issues}
            relabelled = [suggested.get(row, label) for row, label in zip(noisy.rows, noisy.labels)]
            scores = {}
            everything = list(range(len(noisy)))
            for variant, keep, given in (
                ("noisy", everything, noisy.labels),
                (
                    "cleaned",
                    [i for i, row in enumerate(noisy.rows) if row not in flagged],
                    noisy.labels,
                ),
                ("relabelled", everything, relabelled),
            ):
                y = np.array([index[given[i]] for i in keep])
                head = fit_head(x[keep], y, TrainConfig(seed=seed))
                predicted = [labels[int(i)] for i in head.predict(test_x)]  # ids, as fitted
                metrics = compute_metrics(list(test.labels), predicted, labels)
                scores[variant] = metrics.macro_f1
            save(
                {
                    "kind": "frozen",
                    "dataset": name,
                    "seed": seed,
                    "rows": len(noisy),
                    "flipped": len(flipped),
                    "dropped": len(flagged),
                    "dropped_flipped": len(flagged & flipped),
                    "test_rows": len(test),
                    "noisy_macro_f1": scores["noisy"],
                    "cleaned_macro_f1": scores["cleaned"],
                    "relabelled_macro_f1": scores["relabelled"],
                }
            )


def timing(rows: int) -> None:
    """One label check of `rows` rows of emotion (16k rows) in this process, small model, CPU."""
    from core.models import load_model

    data = stratified_sample(read_labeled_csv(DATA / "emotion" / "train.csv"), rows, 0)
    started = time.perf_counter()
    model = load_model("small", device="cpu")
    loaded = time.perf_counter()
    result = find_label_issues(data, model=model, cache=False)
    finished = time.perf_counter()
    save(
        {
            "kind": "time",
            "dataset": "emotion",
            "seed": rows,
            "rows": len(data),
            "load_s": round(loaded - started, 1),
            "check_s": round(finished - loaded, 1),
            "flagged": len(result.issues),
            "near_duplicates": len(result.near_duplicates) + result.more_pairs,
            # ru_maxrss is in KiB on Linux: the whole process, model and torch included
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )


def pairs_timing(rows: int) -> None:
    """The near-duplicate search alone on `rows` random unit vectors (384-d, like the small model):
    seconds and peak memory of the blocked similarity search, without embedding."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    data = LabeledTexts.from_pairs((f"text {i}", str(i % 2)) for i in range(rows))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    found, more = near_duplicates(data, x, 0.95)
    save(
        {
            "kind": "pairs_time",
            "dataset": "random",
            "seed": rows,
            "rows": rows,
            "seconds": round(time.perf_counter() - started, 1),
            "pairs": len(found) + more,
            "rss_before_mb": round(before),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )


def summary() -> str:
    rows = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]
    out = [
        "| data set | labels | flagged | precision | recall | precision@k | s |",
        "|" + "---|" * 7,
    ]
    means: dict[str, list[float]] = {"precision": [], "recall": [], "precision_at_k": []}
    for name in DATASETS:
        rs = [r for r in rows if r["kind"] == "detect" and r["dataset"] == name]
        if not rs:
            continue
        cells = []
        for key in means:
            values = [r[key] for r in rs]
            means[key].append(statistics.mean(values))
            cells.append(f"{statistics.mean(values):.2f} ± {statistics.pstdev(values):.2f}")
        flagged = statistics.mean(r["flagged"] for r in rs)
        secs = statistics.mean(r["seconds"] for r in rs)
        out.append(
            f"| {name} (n={len(rs)}) | {rs[0]['labels']} | {flagged:.0f} | "
            + " | ".join(cells)
            + f" | {secs:.0f} |"
        )
    out.append(
        "| **mean** | | | "
        + " | ".join(f"{statistics.mean(v):.2f}" for v in means.values())
        + " | |"
    )
    out += ["", "| threshold | " + " | ".join(str(t) for t in THRESHOLDS) + " |"]
    out.append("|" + "---|" * (len(THRESHOLDS) + 1))
    for r in (r for r in rows if r["kind"] == "thresholds"):
        out.append(f"| {r['dataset']} | " + " | ".join(str(v) for v in r["pairs"].values()) + " |")
    out += ["", "| data set | seed | dropped (of them flipped) | noisy macro-F1 | cleaned | Δ |"]
    out.append("|" + "---|" * 6)
    for r in (r for r in rows if r["kind"] == "finetune"):
        delta = r["cleaned_macro_f1"] - r["noisy_macro_f1"]
        out.append(
            f"| {r['dataset']} | {r['seed']} | {r['dropped']} ({r['dropped_flipped']}) | "
            f"{r['noisy_macro_f1']:.3f} | {r['cleaned_macro_f1']:.3f} | {delta:+.3f} |"
        )
    out += [
        "",
        "| data set | seed | flagged (of them flipped) | noisy macro-F1 | flagged dropped | Δ "
        "| flagged relabelled | Δ |",
    ]
    out.append("|" + "---|" * 8)
    latest = {(r["dataset"], r["seed"]): r for r in rows if r["kind"] == "frozen"}
    for r in latest.values():
        noisy = r["noisy_macro_f1"]
        relabelled = r.get("relabelled_macro_f1")
        tail = (
            f"{relabelled:.3f} | {relabelled - noisy:+.3f}" if relabelled is not None else "- | -"
        )
        out.append(
            f"| {r['dataset']} | {r['seed']} | {r['dropped']} ({r['dropped_flipped']}) | "
            f"{noisy:.3f} | {r['cleaned_macro_f1']:.3f} | {r['cleaned_macro_f1'] - noisy:+.3f} | "
            f"{tail} |"
        )
    out += ["", "| rows | load s | check s | peak RSS MB |", "|---|---|---|---|"]
    for r in (r for r in rows if r["kind"] == "time"):
        out.append(f"| {r['rows']} | {r['load_s']} | {r['check_s']} | {r['peak_rss_mb']} |")
    for r in (r for r in rows if r["kind"] == "pairs_time"):
        out.append(
            f"| {r['rows']} random vectors, near-duplicate search only | - | {r['seconds']} | "
            f"{r['peak_rss_mb']} (before: {r['rss_before_mb']}) |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what", choices=["detect", "thresholds", "finetune", "frozen", "time", "pairs", "summary"]
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--pairs", default="sst2:0", help="data set:seed,... for finetune")
    parser.add_argument("--seeds", default="0", help="seeds for frozen")
    parser.add_argument("--rows", type=int, default=1000, help="rows for time")
    args = parser.parse_args()
    if args.what == "summary":
        print(summary())
        return
    if args.what == "time":
        timing(args.rows)
        return
    if args.what == "pairs":
        pairs_timing(args.rows)
        return
    from core.models import load_model

    model = load_model("small", device="cpu")
    if args.what == "detect":
        detect(args.datasets.split(","), model)
    elif args.what == "frozen":
        frozen(args.datasets.split(","), [int(s) for s in args.seeds.split(",")], model)
    elif args.what == "thresholds":
        thresholds(args.datasets.split(","), model)
    else:
        pairs = [(p.split(":")[0], int(p.split(":")[1])) for p in args.pairs.split(",")]
        finetune(pairs, model)


if __name__ == "__main__":
    main()

"""Head benchmark: which logistic-regression head on the frozen small model's embeddings?

Issue 17, item 0. For each shared data set and seed, the same 500 training rows and the same test
rows as bench/accuracy.py (its `stratified_sample`, MAX_TEST), encoded once with the small model
(`core.training.encode`, the model's own normalisation) and cached under bench/out/head-cache/;
then every head variant is fitted on the training embeddings and scored on the test rows:

    OMP_NUM_THREADS=1 .venv/bin/python bench/head.py --seeds 0,1,2
    .venv/bin/python bench/head.py --summary

`--product-split` fits the heads on the training part of core.data.split instead (80 % of the
rows, as the product's baseline head); `--rows N` changes the training size (write each setting
to its own --out file; --summary labels columns by data set and rows).

Variants: fixed C in {1, 4, 10, 30, 100}, each with class_weight None and "balanced"; C chosen by
stratified cross-validation on the training rows only (macro-F1, folds = min(5, rows of the
smallest label), at least 2); fixed rules that scale C with the number of labels. No variant looks
at the test rows: the fixed-C table is evidence, the rules are what can run at training time.

Fit seconds are the head's own time (one thread): for a CV variant, the sum of its fold fits plus
the final fit on all training rows. One JSON line per (data set, seed, variant) is appended to
--out (default bench/results/head-frozen.jsonl), after one "meta" line per run with versions,
machine and date; finished triples are skipped, so a run can be resumed.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.accuracy import DATA, DATASETS, MAX_TEST, score, stratified_sample  # noqa: E402
from bench.machine import meta  # noqa: E402
from core.data.files import read_labeled_csv  # noqa: E402
from core.data.labeled import split  # noqa: E402

CACHE = Path("bench/out/head-cache")
CS = (1.0, 4.0, 10.0, 30.0, 100.0)
WEIGHTS = (None, "balanced")
MAX_FOLDS = 5


def fixed_name(c: float, weight: str | None) -> str:
    return f"C{c:g}" + ("-bal" if weight else "")


# Rules that need only the training rows: name -> (C from (labels, rows), class_weight).
# rule-sqrtK: C grows with the square root of the number of labels (2 labels: 5.7, 6: 9.8,
# 150: 49); rule-K: C = 10 up to 10 labels, then in proportion to the labels (150: 100).
RULES = {
    "rule-sqrtK-bal": (lambda k, n: min(100.0, max(1.0, 4.0 * math.sqrt(k))), "balanced"),
    "rule-K-bal": (lambda k, n: min(100.0, max(10.0, float(k) * 2 / 3)), "balanced"),
}

# CV variants: name -> (C grid, class weights searched).
CV_VARIANTS = {
    "cv-C": (CS, (None,)),
    "cv-C-bal": (CS, ("balanced",)),
    "cv-C-weight": (CS, WEIGHTS),
}


def make_head(c: float, weight: str | None, seed: int):
    """The product's head (core/training.py fit_head) with C and class_weight as given."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000, class_weight=weight, random_state=seed)


def fit(x: np.ndarray, y: np.ndarray, c: float, weight: str | None, seed: int):
    """(fitted head, seconds, converged)."""
    from sklearn.exceptions import ConvergenceWarning

    head = make_head(c, weight, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        started = time.perf_counter()
        head.fit(x, y)
        seconds = time.perf_counter() - started
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return head, seconds, converged


FALLBACK_C = 10.0


def cv_folds(y: np.ndarray) -> int:
    """min(5, rows of the smallest label), at least 2; 0 when no label has 2 rows (nothing to
    cross-validate: the CV variants then use C=FALLBACK_C). A label with a single row sits in
    one fold's validation part only (absent from that fold's training rows): it still counts,
    as a miss, which is what a head would do with it."""
    counts = np.bincount(y)[np.unique(y)]
    if counts.max() < 2:
        return 0
    return max(2, min(MAX_FOLDS, int(counts.min())))


def cv_scores(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[dict, int]:
    """Mean validation macro-F1 and summed fit seconds of every (C, weight) on the same
    stratified folds of the training rows."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    folds = cv_folds(y)
    if not folds:
        return {}, 0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    out = {}
    for weight in WEIGHTS:
        for c in CS:
            f1s, secs = [], 0.0
            for train_idx, valid_idx in splits:
                head, s, _ = fit(x[train_idx], y[train_idx], c, weight, seed)
                secs += s
                pred = head.predict(x[valid_idx])
                f1s.append(
                    f1_score(
                        y[valid_idx], pred, labels=np.unique(y), average="macro", zero_division=0
                    )
                )
            out[(c, weight)] = (float(np.mean(f1s)), secs)
    return out, folds


def choose(scores: dict, grid: tuple[float, ...], weights: tuple) -> tuple[float, str | None]:
    """The best mean validation macro-F1; ties go to the smaller C, then to no weighting.
    Without CV scores (no label with 2 rows): FALLBACK_C with the first weighting searched."""
    if not scores:
        return FALLBACK_C, weights[0]
    best = None
    for weight in weights:
        for c in grid:
            f1 = scores[(c, weight)][0]
            if best is None or f1 > best[0] + 1e-12:
                best = (f1, c, weight)
    return best[1], best[2]


def embed(name: str, part: str, texts: tuple[str, ...], model_box: list) -> np.ndarray:
    """Embeddings of `texts` from the cache, or encoded now (the small model, loaded once)."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"small-{name}-{part}-{digest}.npy"
    if path.exists():
        return np.load(path)
    if not model_box:
        import torch

        from core.model.catalogue import load_model

        torch.set_num_threads(1)
        model_box.append(load_model("small", device="cpu"))
    from core.model.heads import encode

    started = time.perf_counter()
    x = encode(model_box[0], texts)
    print(f"encoded {name} {part}: {len(texts)} texts in {time.perf_counter() - started:.0f} s")
    norms = np.linalg.norm(x, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3), "the small model's embeddings should be unit length"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, x)
    return x


def run(
    datasets: list[str], seeds: list[int], rows: int, out: Path, product_split: bool = False
) -> None:
    from threadpoolctl import threadpool_limits

    done = set()
    if out.exists():
        for r in read_rows([out]):
            done.add((r["dataset"], r["rows"], r["seed"], r["variant"]))
    variants = [fixed_name(c, w) for w in WEIGHTS for c in CS] + list(RULES) + list(CV_VARIANTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    wrote_meta = False
    model_box: list = []
    with threadpool_limits(1):
        for name in datasets:
            folder = DATA / DATASETS[name]
            full_train = read_labeled_csv(folder / "train.csv")
            test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
            for seed in seeds:
                train = stratified_sample(full_train, rows, seed)
                labels = train.classes
                index = {label: i for i, label in enumerate(labels)}
                y = np.array([index[label] for label in train.labels])
                x = None
                if product_split:
                    # The rows the product's heads learn from before the refit: the training
                    # part of core.data.split (20 % of each label held out for validation).
                    position = {row: i for i, row in enumerate(train.rows)}
                    keep = [position[row] for row in split(train, seed=seed).train.rows]
                else:
                    keep = list(range(len(train)))
                todo = [v for v in variants if (name, len(keep), seed, v) not in done]
                if not todo:
                    continue
                x = embed(name, f"train{rows}-s{seed}", train.texts, model_box)[keep]
                y = y[keep]
                x_test = embed(name, f"test{MAX_TEST}", test.texts, model_box)
                k = len(labels)

                fitted: dict = {}  # (C, weight) -> (scores, seconds, converged)

                def fixed(c: float, weight: str | None) -> tuple[dict, float, bool]:
                    if (c, weight) not in fitted:
                        head, secs, conv = fit(x, y, c, weight, seed)
                        predicted = [labels[i] for i in head.predict(x_test)]
                        fitted[(c, weight)] = (
                            score(list(test.labels), predicted, labels),
                            secs,
                            conv,
                        )
                    return fitted[(c, weight)]

                cv = None
                records = []
                for variant in todo:
                    extra: dict = {}
                    if variant in RULES:
                        rule, weight = RULES[variant]
                        c = rule(k, len(y))
                        scores, secs, conv = fixed(c, weight)
                    elif variant in CV_VARIANTS:
                        if cv is None:
                            cv = cv_scores(x, y, seed)
                        (table, folds), (grid, weights) = cv, CV_VARIANTS[variant]
                        c, weight = choose(table, grid, weights)
                        scores, final_s, conv = fixed(c, weight)
                        secs = final_s + sum(
                            table[(g, w)][1] for g in grid for w in weights if table
                        )
                        extra = {
                            "folds": folds,
                            "cv_macro_f1": round(table[(c, weight)][0], 4) if table else None,
                        }
                    else:
                        c, weight = next(
                            (cc, w) for w in WEIGHTS for cc in CS if fixed_name(cc, w) == variant
                        )
                        scores, secs, conv = fixed(c, weight)
                    records.append(
                        {
                            "dataset": name,
                            "seed": seed,
                            "variant": variant,
                            "C": round(c, 3),
                            "class_weight": weight,
                            "macro_f1": round(scores["macro_f1"], 4),
                            "accuracy": round(scores["accuracy"], 4),
                            "fit_s": round(secs, 3),
                            "converged": conv,
                            **extra,
                            "labels": k,
                            "rows": len(y),
                            "fit_on": "split-train" if product_split else "all",
                            "test_rows": len(test),
                        }
                    )
                with out.open("a") as f:
                    if not wrote_meta:
                        f.write(json.dumps({**meta(threads=1), "argv": sys.argv[1:]}) + "\n")
                        wrote_meta = True
                    for record in records:
                        f.write(json.dumps(record) + "\n")
                best = max(records, key=lambda r: r["macro_f1"])
                print(
                    f"{name} seed {seed}: {len(records)} variants; C1 "
                    f"{fitted[(1.0, None)][0]['macro_f1'] if (1.0, None) in fitted else '-'}; "
                    f"best {best['variant']} {best['macro_f1']}",
                    flush=True,
                )


def read_rows(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                if not r.get("meta"):
                    rows.append(r)
    return rows


def summarise(paths: list[Path]) -> str:
    """Markdown: per variant (rows) and data set (columns) the mean test macro-F1 over seeds;
    then the mean over sets, the worst per-set difference from C=1, and mean fit seconds."""
    rows = read_rows(paths)
    for r in rows:  # one column per data set and training size; 500 rows is the plain name
        r["dataset"] = r["dataset"] if r["rows"] == 500 else f"{r['dataset']}@{r['rows']}"
    datasets = sorted(
        dict.fromkeys(r["dataset"] for r in rows),
        key=lambda d: (
            list(DATASETS).index(d.split("@")[0]),
            int(d.split("@")[1] if "@" in d else 500),
        ),
    )
    variants = list(dict.fromkeys(r["variant"] for r in rows))

    def cell(d: str, v: str, key: str = "macro_f1") -> float | None:
        values = [r[key] for r in rows if r["dataset"] == d and r["variant"] == v]
        return statistics.mean(values) if values else None

    seeds = sorted({r["seed"] for r in rows})
    per_column = {d: sorted({r["seed"] for r in rows if r["dataset"] == d}) for d in datasets}
    head = ["variant", *datasets, "mean", "worst vs C1 (set)", "fit s mean", "fit s max (set)"]
    # the worst seed of each set against C1 is in the JSON lines; this table is seed means
    lines = [
        f"Test macro-F1, mean over seeds {','.join(map(str, seeds))}"
        + (
            ""
            if all(v == seeds for v in per_column.values())
            else " (per column: "
            + "; ".join(f"{d} {','.join(map(str, v))}" for d, v in per_column.items())
            + ")"
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    base = {d: cell(d, "C1") for d in datasets}
    for v in variants:
        f1 = {d: cell(d, v) for d in datasets}
        have = [f1[d] for d in datasets if f1[d] is not None]
        diffs = [
            (f1[d] - base[d], d) for d in datasets if f1[d] is not None and base[d] is not None
        ]
        worst = min(diffs) if diffs else None
        secs = {d: cell(d, v, "fit_s") for d in datasets}
        secs_have = [(s, d) for d, s in secs.items() if s is not None]
        slowest = max(secs_have)
        lines.append(
            "| "
            + " | ".join(
                [
                    v,
                    *[f"{f1[d]:.3f}" if f1[d] is not None else "-" for d in datasets],
                    f"**{statistics.mean(have):.3f}**" if len(have) == len(datasets) else "-",
                    f"{worst[0]:+.3f} ({worst[1]})" if worst else "-",
                    f"{statistics.mean(s for s, _ in secs_have):.2f}",
                    f"{slowest[0]:.2f} ({slowest[1]})",
                ]
            )
            + " |"
        )
    chosen = [r for r in rows if r["variant"].startswith("cv-")]
    if chosen:
        lines += ["", "C chosen by cross-validation (per seed; b: balanced):", ""]
        lines += ["| variant | " + " | ".join(datasets) + " |", "|" + "---|" * (len(datasets) + 1)]
        for v in dict.fromkeys(r["variant"] for r in chosen):
            cells = []
            for d in datasets:
                picks = [
                    f"{r['C']:g}"
                    + ("b" if r["class_weight"] else "")
                    + ("" if r["folds"] else " (no CV)")
                    for r in sorted(chosen, key=lambda r: r["seed"])
                    if r["dataset"] == d and r["variant"] == v
                ]
                cells.append(",".join(picks) or "-")
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("bench/results/head-frozen.jsonl"))
    parser.add_argument(
        "--product-split",
        action="store_true",
        help="fit the heads on the training part of core.data.split (as the product's baseline)",
    )
    parser.add_argument("--summary", action="store_true", help="only print the table of --out")
    args = parser.parse_args()
    if args.summary:
        print(summarise([args.out]))
        return
    run(
        args.datasets.split(","),
        [int(s) for s in args.seeds.split(",")],
        args.rows,
        args.out,
        args.product_split,
    )


if __name__ == "__main__":
    main()

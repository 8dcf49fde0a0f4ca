"""Label-check benchmark: does find_label_issues find planted label errors, and does dropping the
flagged rows help the finetune?

    python bench/label_issues.py detect              # flip 5 % of labels, score the flags
    python bench/label_issues.py thresholds          # near-duplicate pairs per cosine threshold
    python bench/label_issues.py finetune --policies "drop>=0.7" --pairs amazon:0,yelp:0
    python bench/label_issues.py time --rows 10000   # seconds and peak memory (fresh process)
    python bench/label_issues.py pairs --rows 20000  # the near-duplicate search alone
    python bench/label_issues.py variants --seeds 0  # other heads, embeddings and cleanlab settings
    python bench/label_issues.py policies --seeds 0  # frozen head: drop or relabel which flags
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
from core.data.files import read_labeled_csv  # noqa: E402
from core.data.labeled import LabeledTexts  # noqa: E402
from core.quality.label_issues import find_label_issues  # noqa: E402
from core.quality.near_duplicates import near_duplicates  # noqa: E402

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
    from core.model.heads import encode

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


def finetune(pairs: list[tuple[str, int]], policies: list[str], model) -> None:
    """Embedtune's default finetune (TrainConfig defaults, CPU) on the noisy sample and on it
    cleaned by each policy; test macro-F1. One record per (data set, seed, training data), so
    the noisy finetune is shared by every policy and an interrupted run resumes."""
    finished = {
        (r["dataset"], r["seed"], r["data"]) for r in _rows() if r["kind"] == "finetune_run"
    }
    for name, seed in pairs:
        todo = [p for p in ("noisy", *policies) if (name, seed, p) not in finished]
        if not todo:
            continue
        folder = DATA / DATASETS[name]
        test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
        noisy, flipped = flip(sample(name, seed), NOISE, seed)
        result = find_label_issues(noisy, model=model, cache=False, seed=seed)
        for policy in todo:
            data = noisy if policy == "noisy" else cleaned_by(noisy, result, policy)
            kept = dict(zip(data.rows, data.labels, strict=True))
            touched = {
                row
                for row, label in zip(noisy.rows, noisy.labels, strict=True)
                if kept.get(row) != label
            }
            started = time.perf_counter()
            scores = run_embedtune(data, test, seed, {})
            scores["wall_s"] = round(time.perf_counter() - started, 1)
            save(
                {
                    "kind": "finetune_run",
                    "dataset": name,
                    "seed": seed,
                    "data": policy,
                    "rows": len(data),
                    "flipped": len(flipped),
                    "flagged": len(result.issues),
                    "changed": [len(touched), len(touched & flipped)],
                    "test_rows": len(test),
                    "macro_f1": scores["macro_f1"],
                    "scores": scores,
                }
            )


def timing(rows: int) -> None:
    """One label check of `rows` rows of emotion (16k rows) in this process, small model, CPU."""
    from core.model.catalogue import load_model

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


EMBEDDINGS = Path("bench/out/embeddings")
FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_self_confidence",
    "low_normalized_margin",
)
RANKINGS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


def sample_embeddings(name: str, seed: int, key: str, data: LabeledTexts, models: dict):
    """Unit-length embeddings of the sample with base model `key`, kept under bench/out."""
    path = EMBEDDINGS / f"{key}-{name}-{seed}.npy"
    if path.exists():
        return np.load(path)
    from core.model.catalogue import load_model
    from core.model.heads import encode

    if key not in models:
        models[key] = load_model(key, device="cpu")
    started = time.perf_counter()
    x = encode(models[key], data.texts)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    print(f"embedded {name} seed {seed} with {key}: {time.perf_counter() - started:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, x)
    return x


def oof_probs(x: np.ndarray, y: np.ndarray, k: int, folds: int, seed: int, head: str):
    """Out-of-fold probabilities from one kind of head on the same stratified folds."""
    import warnings

    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    probs = np.zeros((len(y), k))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    for train_idx, test_idx in splits:
        if head == "lr" or head.startswith("lr_c"):
            c = float(head[4:]) if head.startswith("lr_c") else 1.0
            model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        elif head == "lrcv":
            # C chosen per fold by an inner 3-fold CV on log-loss
            model = LogisticRegressionCV(
                Cs=[0.25, 1, 4, 16, 64], cv=3, scoring="neg_log_loss", max_iter=2000
            )
        elif head.startswith("knn"):
            model = KNeighborsClassifier(int(head[3:]), weights="distance", metric="cosine")
        else:
            raise ValueError(head)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            model.fit(x[train_idx], y[train_idx])
            probs[np.ix_(test_idx, model.classes_)] = model.predict_proba(x[test_idx])
    return probs


VARIANTS = {
    # name: (embeddings, heads averaged)
    "small-lr": (("small",), ("lr",)),
    "small-lr_c4": (("small",), ("lr_c4",)),
    "small-lr_c16": (("small",), ("lr_c16",)),
    "small-lrcv": (("small",), ("lrcv",)),
    "small-knn10": (("small",), ("knn10",)),
    "small-lr+knn10": (("small",), ("lr", "knn10")),
    "large-lr": (("large",), ("lr",)),
    "large-lr_c4": (("large",), ("lr_c4",)),
    "large-lr+knn10": (("large",), ("lr", "knn10")),
    "concat-lr": (("small", "large"), ("lr",)),
    "concat-lr_c4": (("small", "large"), ("lr_c4",)),
    "small+large-lr": (("small|large",), ("lr",)),
}


def variants(datasets: list[str], seeds: list[int], names: list[str], again: bool) -> None:
    """Every variant on the same noisy samples: precision, recall and precision@k per cleanlab
    filter and ranking (the default is small-lr, prune_by_noise_rate, self_confidence)."""
    from cleanlab.filter import find_label_issues as cleanlab_issues

    from core.quality.out_of_fold import choose_folds

    models: dict = {}
    finished = {(r["dataset"], r["seed"], r["variant"]) for r in _rows() if r["kind"] == "variant"}
    if again:
        finished = set()
    for seed in seeds:
        for name in datasets:
            todo = [v for v in names if (name, seed, v) not in finished]
            if not todo:
                continue
            data = sample(name, seed)
            noisy, flipped = flip(data, NOISE, seed)
            classes = noisy.classes
            index = {label: i for i, label in enumerate(classes)}
            y = np.array([index[label] for label in noisy.labels])
            truth = np.array([noisy.rows[i] in flipped for i in range(len(noisy))])
            k = int(truth.sum())
            counts = {label: noisy.labels.count(label) for label in classes}
            folds = choose_folds(counts)
            for variant in todo:
                spaces, heads = VARIANTS[variant]
                started = time.perf_counter()
                parts = []
                for space in spaces:
                    if "|" in space:  # average of one head per embedding
                        parts += [
                            oof_probs(
                                sample_embeddings(name, seed, key, data, models),
                                y,
                                len(classes),
                                folds,
                                seed,
                                heads[0],
                            )
                            for key in space.split("|")
                        ]
                if not parts:
                    x = np.hstack([sample_embeddings(name, seed, s, data, models) for s in spaces])
                    parts = [oof_probs(x, y, len(classes), folds, seed, h) for h in heads]
                probs = np.mean(parts, axis=0)
                probs /= probs.sum(axis=1, keepdims=True)
                head_s = time.perf_counter() - started
                np.save(EMBEDDINGS / f"probs-{variant}-{name}-{seed}.npy", probs)
                scores = {}
                for filter_by in FILTERS:
                    for rank in RANKINGS:
                        ranked = cleanlab_issues(
                            y,
                            probs,
                            filter_by=filter_by,
                            return_indices_ranked_by=rank,
                            n_jobs=1,
                        )
                        hits = truth[ranked]
                        scores[f"{filter_by}/{rank}"] = {
                            "flagged": len(ranked),
                            "precision": float(hits.mean()) if len(ranked) else 0.0,
                            "recall": float(hits.sum() / k),
                            "precision_at_k": float(hits[:k].sum() / k),
                        }
                save(
                    {
                        "kind": "variant",
                        "dataset": name,
                        "seed": seed,
                        "variant": variant,
                        "flipped": k,
                        "oof_accuracy": float((probs.argmax(1) == y)[~truth].mean()),
                        "head_s": round(head_s, 1),
                        "scores": scores,
                    }
                )


POLICIES = {
    # name: (choice, lowest suggested-label confidence); what the Data page's bulk action does
    "drop_all": ("drop", 0.0),
    "relabel_all": ("relabel", 0.0),
    "drop>=0.5": ("drop", 0.5),
    "drop>=0.7": ("drop", 0.7),
    "drop>=0.9": ("drop", 0.9),
    "relabel>=0.5": ("relabel", 0.5),
    "relabel>=0.7": ("relabel", 0.7),
    "relabel>=0.9": ("relabel", 0.9),
}


def cleaned_by(noisy: LabeledTexts, result, policy: str) -> LabeledTexts:
    """The noisy sample after a bulk choice of the Data page
    (core.quality.label_choices.choices_above)."""
    from core.quality.label_choices import apply_choices, choices_above

    choice, confidence = POLICIES[policy]
    return apply_choices(noisy, result, choices_above(result, confidence, choice))


def policies(datasets: list[str], seeds: list[int], model) -> None:
    """Frozen-embedding head (small model) on the noisy sample and on it after each policy,
    test macro-F1: cheap, to choose the policy that the finetune comparison then checks."""
    from core.config import TrainConfig
    from core.model.heads import encode, fit_head
    from core.train.metrics import compute_metrics

    finished = {(r["dataset"], r["seed"]) for r in _rows() if r["kind"] == "policy"}
    for name in datasets:
        folder = DATA / DATASETS[name]
        test = stratified_sample(read_labeled_csv(folder / "test.csv"), MAX_TEST, 0)
        test_x = None
        for seed in seeds:
            if (name, seed) in finished:
                continue
            if test_x is None:
                test_x = encode(model, test.texts)
            data = sample(name, seed)
            noisy, flipped = flip(data, NOISE, seed)
            result = find_label_issues(noisy, model=model, cache=False, seed=seed)
            x = sample_embeddings(name, seed, "small", data, {"small": model})
            position = {row: i for i, row in enumerate(noisy.rows)}
            labels = noisy.classes
            index = {label: i for i, label in enumerate(labels)}
            scores, changed = {}, {}
            for policy in ("noisy", *POLICIES):
                edited = noisy if policy == "noisy" else cleaned_by(noisy, result, policy)
                keep = [position[row] for row in edited.rows]
                y = np.array([index[label] for label in edited.labels])
                head = fit_head(x[keep], y, TrainConfig(seed=seed))
                predicted = [labels[int(i)] for i in head.predict(test_x)]
                scores[policy] = compute_metrics(list(test.labels), predicted, labels).macro_f1
                kept = dict(zip(edited.rows, edited.labels, strict=True))
                touched = {
                    row
                    for row, label in zip(noisy.rows, noisy.labels, strict=True)
                    if kept.get(row) != label
                }
                changed[policy] = [len(touched), len(touched & flipped)]
            save(
                {
                    "kind": "policy",
                    "dataset": name,
                    "seed": seed,
                    "rows": len(noisy),
                    "flipped": len(flipped),
                    "flagged": len(result.issues),
                    "test_rows": len(test),
                    "macro_f1": scores,
                    "changed": changed,  # rows dropped or relabelled, of them flipped
                }
            )


def _rows() -> list[dict]:
    if not OUT.exists():
        return []
    return [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]


def variants_summary(setting: str = "prune_by_noise_rate/self_confidence") -> str:
    """precision@k per variant and data set (mean over the seeds present), one cleanlab setting;
    then the mean precision@k of every setting per variant."""
    latest = {(r["dataset"], r["seed"], r["variant"]): r for r in _rows() if r["kind"] == "variant"}
    rows = list(latest.values())
    names = list(dict.fromkeys(r["variant"] for r in rows))
    out = ["| variant | " + " | ".join(DATASETS) + " | mean | seeds |", "|" + "---|" * 10]
    for variant in names:
        cells, means = [], []
        seeds = set()
        for name in DATASETS:
            vs = [
                r["scores"][setting]["precision_at_k"]
                for r in rows
                if r["variant"] == variant and r["dataset"] == name
            ]
            seeds |= {r["seed"] for r in rows if r["variant"] == variant and r["dataset"] == name}
            cells.append(f"{statistics.mean(vs):.2f}" if vs else "-")
            if vs:
                means.append(statistics.mean(vs))
        mean = f"{statistics.mean(means):.3f}" if len(means) == len(DATASETS) else "-"
        out.append(f"| {variant} | " + " | ".join(cells) + f" | {mean} | {sorted(seeds)} |")
    settings = [f"{f}/self_confidence" for f in FILTERS] + [
        f"prune_by_noise_rate/{r}" for r in RANKINGS[1:]
    ]
    out += ["", "| variant | " + " | ".join(settings) + " |", "|" + "---|" * (len(settings) + 1)]
    for variant in names:
        cells = []
        for s in settings:
            per = [
                statistics.mean(
                    r["scores"][s]["precision_at_k"]
                    for r in rows
                    if r["variant"] == variant and r["dataset"] == name and s in r["scores"]
                )
                for name in DATASETS
                if any(
                    r["variant"] == variant and r["dataset"] == name and s in r["scores"]
                    for r in rows
                )
            ]
            cells.append(f"{statistics.mean(per):.3f}" if len(per) == len(DATASETS) else "-")
        out.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def finetune_summary(rows: list[dict]) -> str:
    """Test macro-F1 of the finetune on the noisy sample and on each cleaned one."""
    runs = {(r["dataset"], r["seed"], r["data"]): r for r in rows if r["kind"] == "finetune_run"}
    cleaned = list(dict.fromkeys(k[2] for k in runs if k[2] != "noisy"))
    out = [
        "| data set | seed | noisy macro-F1 | "
        + " | ".join(f"{p} (rows changed, of them flipped) | Δ" for p in cleaned)
        + " |",
        "|" + "---|" * (3 + 2 * len(cleaned)),
    ]
    deltas: dict[str, list[float]] = {p: [] for p in cleaned}
    noisy_all = []
    for (name, seed, data), r in runs.items():
        if data != "noisy":
            continue
        noisy_all.append(r["macro_f1"])
        cells = []
        for p in cleaned:
            c = runs.get((name, seed, p))
            if c is None:
                cells.append("- | -")
                continue
            deltas[p].append(c["macro_f1"] - r["macro_f1"])
            cells.append(
                f"{c['macro_f1']:.3f} ({c['changed'][0]}, {c['changed'][1]}) | "
                f"{c['macro_f1'] - r['macro_f1']:+.3f}"
            )
        out.append(f"| {name} | {seed} | {r['macro_f1']:.3f} | " + " | ".join(cells) + " |")
    if noisy_all:
        out.append(
            f"| **mean** | | {statistics.mean(noisy_all):.3f} | "
            + " | ".join(
                f"| {statistics.mean(d):+.3f} (n={len(d)})" if d else "| -" for d in deltas.values()
            )
            + " |"
        )
    return "\n".join(out)


def policy_summary(rows: list[dict]) -> str:
    """Frozen head: test macro-F1 change of each cleaning policy against the noisy sample."""
    rs = [r for r in rows if r["kind"] == "policy"]
    if not rs:
        return ""
    names = list(POLICIES)
    out = [
        "| data set | seed | flagged | noisy | " + " | ".join(names) + " |",
        "|" + "---|" * (4 + len(names)),
    ]
    deltas: dict[str, list[float]] = {p: [] for p in names}
    for r in rs:
        f1 = r["macro_f1"]
        cells = []
        for p in names:
            d = f1[p] - f1["noisy"]
            deltas[p].append(d)
            cells.append(f"{d:+.3f} ({r['changed'][p][0]}/{r['changed'][p][1]})")
        out.append(
            f"| {r['dataset']} | {r['seed']} | {r['flagged']} | {f1['noisy']:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    out.append(
        "| **mean Δ** | | | | "
        + " | ".join(f"{statistics.mean(d):+.3f}" for d in deltas.values())
        + " |"
    )
    out.append(
        "| **worst Δ** | | | | " + " | ".join(f"{min(d):+.3f}" for d in deltas.values()) + " |"
    )
    return "\n".join(out)


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
    out += ["", finetune_summary(rows), "", policy_summary(rows)]
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
        "what",
        choices=[
            "detect",
            "thresholds",
            "finetune",
            "time",
            "pairs",
            "variants",
            "policies",
            "summary",
        ],
    )
    parser.add_argument("--variants", default=",".join(VARIANTS), help="for variants")
    parser.add_argument("--again", action="store_true", help="variants: recompute finished ones")
    parser.add_argument("--policies", default="drop_all", help="cleaning policies for finetune")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--pairs", default="sst2:0", help="data set:seed,... for finetune")
    parser.add_argument("--seeds", default="0", help="seeds for variants and policies")
    parser.add_argument("--rows", type=int, default=1000, help="rows for time")
    args = parser.parse_args()
    if args.what == "summary":
        print(summary())
        print()
        print(variants_summary())
        return
    if args.what == "variants":
        datasets, seeds = args.datasets.split(","), [int(s) for s in args.seeds.split(",")]
        variants(datasets, seeds, args.variants.split(","), args.again)
        return
    if args.what == "time":
        timing(args.rows)
        return
    if args.what == "pairs":
        pairs_timing(args.rows)
        return
    from core.model.catalogue import load_model

    model = load_model("small", device="cpu")
    if args.what == "detect":
        detect(args.datasets.split(","), model)
    elif args.what == "policies":
        policies(args.datasets.split(","), [int(s) for s in args.seeds.split(",")], model)
    elif args.what == "thresholds":
        thresholds(args.datasets.split(","), model)
    else:
        pairs = [(p.split(":")[0], int(p.split(":")[1])) for p in args.pairs.split(",")]
        finetune(pairs, [p for p in args.policies.split(",") if p], model)


if __name__ == "__main__":
    main()

"""Coverage of the bootstrap intervals (issue #26): how often the 95 % interval of a score holds
the score the model really has, by number of labels and rows per label.

    python bench/coverage.py --out bench/results/coverage.jsonl     # about 10 minutes on 2 cores
    python bench/coverage.py --summary --out bench/results/coverage.jsonl

A model is a known confusion: label i is right with probability a_i (drawn around 0.8) and
otherwise taken for one of three other labels. Its true score is that of the confusion itself
(infinitely many rows). Each replication draws a test set of `rows` rows per label from it (as
a stratified validation split or a test file holds them), computes each way's 95 % interval of
macro-F1 (F1 of the positive label for two labels) and accuracy, and counts whether it holds
the true score and the set's own point estimate.

The ways:
- `all`: a macro average over every label in each draw, absent labels as 0 (before #26);
- `present`: over the labels present in each draw, as scikit-learn averages the point estimate;
- `stratified`: rows drawn again within each true label (every label keeps its count);
- `centred`: `present` draws, the interval placed around the point estimate (the point plus
  the draws' spread around their median), so the draws' bias does not move it;
- `stratified-centred`: both.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import meta  # noqa: E402
from core.train.intervals import scores_from_confusions  # noqa: E402

PLAN = [(2, 25), (2, 100), (6, 5), (6, 30), (77, 2), (77, 8), (150, 2), (150, 5)]
WAYS = ("all", "present", "stratified", "centred", "stratified-centred")
DRAWS = 1000


def population(k: int, rng: np.random.Generator) -> np.ndarray:
    """A (k, k) confusion of proportions (rows: true label, each summing to 1)."""
    accuracy = rng.beta(8, 2, size=k)
    p = np.zeros((k, k))
    for i in range(k):
        p[i, i] = accuracy[i]
        others = [j for j in range(k) if j != i]
        chosen = rng.choice(others, size=min(3, len(others)), replace=False)
        p[i, chosen] = (1 - accuracy[i]) * rng.dirichlet(np.ones(len(chosen)))
    return p


def shown_score(cm: np.ndarray, k: int) -> np.ndarray:
    """The headline score of each confusion: F1 of label 1 for two labels, else macro-F1."""
    return scores_from_confusions(cm, 1 if k == 2 else None)["f1"]


def all_labels_macro(cm: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 over every label, a label absent from the draw counted as 0 (the old way)."""
    if k == 2:
        return shown_score(cm, k)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    den = cm.sum(axis=-1) + cm.sum(axis=-2)
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0).mean(axis=-1)


def confusions(truth: np.ndarray, pred: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    codes = truth * k + pred
    offsets = (np.arange(rows.shape[0]) * k * k)[:, None]
    counts = np.bincount((codes[rows] + offsets).ravel(), minlength=rows.shape[0] * k * k)
    return counts.reshape(rows.shape[0], k, k)


def draws(truth: np.ndarray, stratified: bool, rng: np.random.Generator) -> np.ndarray:
    n = len(truth)
    if not stratified:
        return rng.integers(0, n, size=(DRAWS, n))
    out = np.empty((DRAWS, n), dtype=np.int64)
    start = 0
    for label in np.unique(truth):
        members = np.flatnonzero(truth == label)
        out[:, start : start + len(members)] = members[
            rng.integers(0, len(members), size=(DRAWS, len(members)))
        ]
        start += len(members)
    return out


def replicate(p: np.ndarray, rows: int, rng: np.random.Generator) -> dict:
    k = len(p)
    truth = np.repeat(np.arange(k), rows)
    pred = np.array([rng.choice(k, p=p[t]) for t in truth])
    point_cm = confusions(truth, pred, np.arange(len(truth))[None, :], k)
    point = float(shown_score(point_cm, k)[0])
    out = {}
    for way in WAYS:
        rows_drawn = draws(truth, way.startswith("stratified"), rng)
        cm = confusions(truth, pred, rows_drawn, k)
        values = all_labels_macro(cm, k) if way == "all" else shown_score(cm, k)
        low, high = np.percentile(values, [2.5, 97.5])
        if way.endswith("centred"):
            middle = np.median(values)
            low, high = point + (low - middle), point + (high - middle)
        out[way] = (float(low), float(high))
    return {"point": point, "intervals": out}


def true_score(p: np.ndarray) -> float:
    k = len(p)
    return float(shown_score(p[None, :, :], k)[0])


def run(out: Path, replications: int) -> None:
    with out.open("a", encoding="utf-8") as f:
        f.write(json.dumps(meta(threads=1)) + "\n")
        for k, rows in PLAN:
            rng = np.random.default_rng(1000 * k + rows)
            p = population(k, rng)
            truth = true_score(p)
            counts = {way: {"holds_true": 0, "holds_point": 0, "width": 0.0} for way in WAYS}
            points = []
            for _ in range(replications):
                result = replicate(p, rows, rng)
                points.append(result["point"])
                for way, (low, high) in result["intervals"].items():
                    counts[way]["holds_true"] += low <= truth <= high
                    counts[way]["holds_point"] += low - 1e-9 <= result["point"] <= high + 1e-9
                    counts[way]["width"] += (high - low) / replications
            record = {
                "labels": k,
                "rows_per_label": rows,
                "replications": replications,
                "true_score": round(truth, 4),
                "mean_point": round(float(np.mean(points)), 4),
                "ways": {
                    way: {
                        "coverage": c["holds_true"] / replications,
                        "holds_point": c["holds_point"] / replications,
                        "mean_width": round(c["width"], 4),
                    }
                    for way, c in counts.items()
                },
            }
            f.write(json.dumps(record) + "\n")
            f.flush()
            print(json.dumps(record), flush=True)


def summary(out: Path) -> str:
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    records = [r for r in records if not r.get("meta")]
    head = "| labels | rows per label | true F1 | mean point | " + " | ".join(WAYS) + " |"
    lines = [head, "|" + "---|" * (4 + len(WAYS))]
    for r in records:
        cells = [
            f"{r['ways'][w]['coverage']:.0%} ({r['ways'][w]['holds_point']:.0%})" for w in WAYS
        ]
        lines.append(
            f"| {r['labels']} | {r['rows_per_label']} | {r['true_score']:.3f} | "
            f"{r['mean_point']:.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/coverage.jsonl"))
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    if args.summary:
        print(summary(args.out))
    else:
        run(args.out, args.replications)


if __name__ == "__main__":
    main()

"""Which rule should decide between a finetune and its frozen base model (issue #26, item 3)?

    python bench/accuracy.py --datasets hwu64,clinc150 --seeds 0,1,2 --methods frozen,embedtune \
        --keep always --tag=-keep --out bench/results/selection.jsonl
    python bench/selection.py bench/results/selection.jsonl

Each finetune ran with the guard off (`--keep always`), recording its validation macro-F1, the
base model's, and the paired-bootstrap interval of the gain; the frozen run of the same rows is
what the recipe hands over when a rule discards the finetune (the base model, its head fitted on
every row with the label names). So one run per (set, seed) gives each rule's test score:

- `valid-f1` (the recipe before this measurement): keep when validation macro-F1 >= the base's;
- `not-clearly-worse`: keep unless the gain's 95 % interval lies below zero;
- `log-loss`: keep when the finetune's validation log-loss is at most the base model's;
- `always`: keep every finetune.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

RULES = {
    "valid-f1": lambda r: r["valid_macro_f1"] >= r["baseline_valid_macro_f1"],
    "not-clearly-worse": lambda r: (
        not (r["valid_gain_interval"] and r["valid_gain_interval"][1] < 0)
    ),
    "log-loss": lambda r: r["valid_log_loss"] <= r["baseline_valid_log_loss"],
    "always": lambda r: True,
}


def rows(paths: list[Path]) -> list[dict]:
    found = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip() and not json.loads(line).get("meta"):
                found.append(json.loads(line))
    return found


def table(results: list[dict], method: str = "embedtune-keep") -> str:
    frozen = {(r["dataset"], r["seed"]): r for r in results if r["method"].startswith("frozen")}
    tuned = {(r["dataset"], r["seed"]): r for r in results if r["method"] == method}
    datasets = list(dict.fromkeys(d for d, _ in tuned))
    head = "| data set | seeds | frozen + names | " + " | ".join(RULES) + " | kept by valid-f1 |"
    lines = [head, "|" + "---|" * (len(RULES) + 4)]
    gains: dict[str, list[float]] = {rule: [] for rule in RULES}
    for dataset in datasets:
        keys = sorted(k for k in tuned if k[0] == dataset and k in frozen)
        base = statistics.mean(frozen[k]["macro_f1"] for k in keys)
        cells = []
        for rule, keep in RULES.items():
            if rule == "log-loss" and any(tuned[k].get("valid_log_loss") is None for k in keys):
                cells.append("-")  # runs from before the log-loss was recorded
                continue
            scores = [
                tuned[k]["macro_f1"] if keep(tuned[k]) else frozen[k]["macro_f1"] for k in keys
            ]
            mean = statistics.mean(scores)
            gains[rule].append(mean - base)
            cells.append(f"{mean:.3f} ({100 * (mean - base):+.1f})")
        kept = sum(RULES["valid-f1"](tuned[k]) for k in keys)
        lines.append(
            f"| {dataset} | {len(keys)} | {base:.3f} | " + " | ".join(cells) + f" | {kept} of "
            f"{len(keys)} |"
        )
    lines.append(
        "| **mean gain** | | | "
        + " | ".join(f"{100 * statistics.mean(g):+.1f}" if g else "-" for g in gains.values())
        + " | |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    method = "embedtune-keep"
    if "--method" in args:
        at = args.index("--method")
        method = args[at + 1]
        del args[at : at + 2]
    paths = [Path(p) for p in args] or [Path("bench/results/selection.jsonl")]
    print(table(rows(paths), method))

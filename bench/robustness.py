"""Robustness benchmark: reading and reviewing very long texts and very many rows, with the
time and the peak memory of each case (each in its own process, so peaks do not mix).

    .venv/bin/python bench/robustness.py            # prints a Markdown table
    .venv/bin/python bench/robustness.py --case rows-100k   # one case, JSON (used internally)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = "the quick brown fox jumps over a lazy dog while rain falls on the quiet town".split()

# name: (rows, characters of each long text, how many rows are long)
CASES = {
    "rows-100k": (100_000, 0, 0),
    "long-texts": (1_000, 100_000, 100),
}


def make_csv(rows: int, long_chars: int, long_rows: int) -> bytes:
    """Labelled rows of short sentences; the first `long_rows` texts are `long_chars` long."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for i in range(rows):
        words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(12)]
        text = " ".join(words) + f" {i}"
        if i < long_rows:
            text = (text + " ") * (long_chars // (len(text) + 1) + 1)
            text = text[:long_chars]
        writer.writerow((text, ("pos", "neg", "neutral")[i % 3]))
    return buffer.getvalue().encode("utf-8")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(name: str) -> dict:
    from core.data.files import read_labeled_csv
    from core.model.catalogue import load_tokenizer
    from core.quality.prepare import review_for_model

    load_tokenizer("small")  # loaded before the measurement: the app caches it too
    raw = make_csv(*CASES[name])
    before = _rss_mb()
    start = time.perf_counter()
    data = read_labeled_csv(raw, name=f"{name}.csv")
    read_s = time.perf_counter() - start
    report = review_for_model(data, model="small")
    total_s = time.perf_counter() - start
    stats = report.train_tokens
    return {
        "case": name,
        "rows": len(data),
        "file_mb": round(len(raw) / 2**20, 1),
        "longest_chars": max(len(t) for t in data.texts),
        "read_s": round(read_s, 2),
        "review_s": round(total_s, 2),
        "truncated": stats.truncated if stats else None,
        "rss_before_mb": round(before),
        "peak_rss_mb": round(_rss_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=sorted(CASES))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    results = []
    for name in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", name],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print()
    print(
        "| case | rows | file MB | longest text (chars) | read s | read + review s | "
        "truncated texts | RSS before MB | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['case']} | {r['rows']:,} | {r['file_mb']} | {r['longest_chars']:,} | "
            f"{r['read_s']} | {r['review_s']} | {r['truncated']} | {r['rss_before_mb']} | "
            f"{r['peak_rss_mb']} |"
        )


if __name__ == "__main__":
    main()

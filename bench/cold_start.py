"""Cold start: how long `python -m core classify RUN "text"` and `python -m core embed small
"text"` take from a new process, and where the time goes (imports, model load, first prediction).

    python bench/cold_start.py --runs-dir runs --run ft-... [--repeats 5]

Each repeat starts fresh processes: the real command (wall time from outside), then a probe that
times the same steps the command takes inside one process. Prints the median of each part with the
machine and versions, as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import meta  # noqa: E402

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import core.cli  # the command line itself: parser, errors, rendering
t1 = time.perf_counter()
import sentence_transformers  # torch, transformers, sentence-transformers
t2 = time.perf_counter()
from core.runs.resolve import load, resolve
from core.runs.store import RunStore
model = load(resolve(sys.argv[1], RunStore(sys.argv[2]), classify=sys.argv[3] == "classify"))
t3 = time.perf_counter()
model.classify(["what a lovely film"]) if sys.argv[3] == "classify" else model.embed(["hi"])
t4 = time.perf_counter()
print(json.dumps({"cli_import": t1 - t0, "torch_st_import": t2 - t1, "model_load": t3 - t2,
                  "first_prediction": t4 - t3}))
"""


def wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(kind: str, model: str, runs_dir: str, repeats: int) -> dict[str, float]:
    python = sys.executable
    command = [python, "-m", "core", kind, model, "what a lovely film", "--runs-dir", runs_dir]
    parts: dict[str, list[float]] = {}
    for _ in range(repeats):
        parts.setdefault("command_total", []).append(wall(command))
        start = time.perf_counter()
        out = subprocess.run(
            [python, "-c", PROBE, model, runs_dir, kind],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        total = time.perf_counter() - start
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        probe["interpreter_and_exit"] = total - sum(probe.values())
        for name, value in probe.items():
            parts.setdefault(name, []).append(value)
    return {name: statistics.median(values) for name, values in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--run", required=True, help="a completed run to classify with")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = {
        "classify": measure("classify", args.run, args.runs_dir, args.repeats),
        "embed": measure("embed", "small", args.runs_dir, args.repeats),
    }
    print(json.dumps({**meta(threads=2), "repeats": args.repeats, "results": results}, indent=1))


if __name__ == "__main__":
    main()

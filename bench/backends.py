"""Backends: PyTorch fp32 against ONNX fp32 and ONNX int8 (ONNX Runtime), side by side in one run.

    flock /tmp/embedtune-heavy.lock .venv/bin/python bench/backends.py [--models small,large]
        [--train-rows 1000] [--test-rows 1000] [--speed-texts 512] [--calls 100]

Writes the "Backends" section of docs/BENCHMARKS.md and bench/results/backends.jsonl.

- bodies: each base model's body exported and checked as `core export --format onnx` does it
  (`core.model.onnx.ensure_body`: fp32 with torch.onnx, int8 with onnxruntime's quantize_dynamic).
- macro-F1: on each shared set (/work/shared/data), a logistic-regression head (the default
  C and balancing) fitted on the PyTorch embeddings of the first `--train-rows` training rows,
  then the first `--test-rows` test rows embedded by each backend and classified by that same
  head. The head is the frozen base model's, not a finetuned run's: what is compared is how far
  each backend's embeddings move the predictions of one head.
- speed and memory: one fresh process per model and backend (run twice, alternating, the better
  figure kept), 2 threads: `Embedder.embed` and `Classifier.classify` over the same
  `--speed-texts` test texts (rows/s, batch 64), then `--calls` one-text `classify` calls (p50,
  p95), and the process's peak resident memory (VmHWM) after all of it.
- the large model (about 7x slower on a CPU) takes at most `--large-rows` rows of each set and
  as many speed texts.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.env import set_offline_env  # noqa: E402

set_offline_env()

DOC = ROOT / "docs" / "BENCHMARKS.md"
OUT = ROOT / "bench" / "results" / "backends.jsonl"
DATA = Path(os.environ.get("EMBEDTUNE_SHARED_DATA", ROOT.parent / "shared" / "data"))
SETS = (
    "clinc150",
    "emotion",
    "goemotions",
    "sms-spam",
    "sst2",
    "uci-sentiment/amazon",
    "uci-sentiment/imdb",
    "uci-sentiment/yelp",
)
BACKENDS = ("torch", "onnx", "onnx-int8")
THREADS = 2
HEADING = "## Backends"


def read_rows(path: Path, limit: int) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            if len(texts) >= limit:
                break
            texts.append(row[0])
            labels.append(row[1])
    return texts, labels


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec
    from the benchmark's own, larger process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- one model on one backend in its own process -----------------------------------------------


def worker(key: str, backend: str, work: Path, calls: int) -> dict[str, Any]:
    """Speed and memory of one backend, in a fresh process (printed as one JSON line)."""
    import torch
    from safetensors.numpy import load_file

    torch.set_num_threads(THREADS)
    from core.model.catalogue import load_model, model_path
    from core.model.classifier import Classifier
    from core.model.heads import LinearHead
    from core.model.onnx import load_body

    texts = json.loads((work / "speed-texts.json").read_text(encoding="utf-8"))
    labels = json.loads((work / "head-labels.json").read_text(encoding="utf-8"))
    arrays = load_file(str(work / "head.safetensors"))
    started = time.perf_counter()
    if backend == "torch":
        model = load_model(key, device="cpu")
    else:
        model = load_body(model_path(key), backend, onnx_dir=work / "onnx")
    load_s = time.perf_counter() - started
    rss_loaded = peak_rss_mb()
    classifier = Classifier(model, LinearHead(arrays["coef"], arrays["intercept"]), labels)
    classifier.embed(texts[:64])  # warm up
    started = time.perf_counter()
    classifier.embed(texts)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    classifier.classify(texts)
    classify_s = time.perf_counter() - started
    latencies = []
    for i in range(calls):
        started = time.perf_counter()
        classifier.classify([texts[i % len(texts)]])
        latencies.append(time.perf_counter() - started)
    return {
        "kind": "speed",
        "model": key,
        "backend": backend,
        "texts": len(texts),
        "load_s": round(load_s, 2),
        "embed_rows_per_s": round(len(texts) / embed_s, 1),
        "classify_rows_per_s": round(len(texts) / classify_s, 1),
        "classify_one_p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 2),
        "classify_one_p95_ms": round(float(np.percentile(latencies, 95)) * 1000, 2),
        "rss_after_load_mb": round(rss_loaded),
        "peak_rss_mb": round(peak_rss_mb()),
    }


# -- the run -----------------------------------------------------------------------------------


def accuracy(key: str, work: Path, args: argparse.Namespace, emit: Any) -> None:
    """Export and check the bodies, then macro-F1 of each backend on each set."""
    import torch
    from safetensors.numpy import save_file
    from sklearn.metrics import f1_score

    torch.set_num_threads(THREADS)
    from core.config import TrainConfig
    from core.model.catalogue import load_model, model_path
    from core.model.heads import encode, fit_head
    from core.model.onnx import ensure_body, load_body

    folder = model_path(key)
    reference = load_model(key, device="cpu")
    data = {
        name: (
            read_rows(DATA / name / "train.csv", args.train_rows),
            read_rows(DATA / name / "test.csv", args.test_rows),
        )
        for name in args.sets
    }
    check_texts = [t for (train, _), _ in data.values() for t in train[0][:64]]
    for backend in BACKENDS[1:]:
        started = time.perf_counter()
        check = ensure_body(
            folder, backend, check_texts, onnx_dir=work / "onnx", reference=reference
        )
        emit(
            {
                "kind": "export",
                "model": key,
                "seconds": round(time.perf_counter() - started, 1),
                **check.to_dict(),
            }
        )
    models = {"torch": reference}
    models |= {b: load_body(folder, b, onnx_dir=work / "onnx") for b in BACKENDS[1:]}
    speed_texts: list[str] = []
    for name, ((train_x, train_y), (test_x, test_y)) in data.items():
        classes = sorted(set(train_y))
        y = np.array([classes.index(label) for label in train_y])
        head = fit_head(encode(reference, train_x), y, TrainConfig())
        known = [i for i, label in enumerate(test_y) if label in classes]
        texts = [test_x[i] for i in known]
        truth = np.array([classes.index(test_y[i]) for i in known])
        torch_emb = None
        for backend in BACKENDS:
            started = time.perf_counter()
            emb = encode(models[backend], texts)
            seconds = time.perf_counter() - started
            torch_emb = emb if backend == "torch" else torch_emb
            cosine = (emb * torch_emb).sum(axis=1) / (
                np.linalg.norm(emb, axis=1) * np.linalg.norm(torch_emb, axis=1)
            )
            predicted = head.predict(emb)
            emit(
                {
                    "kind": "accuracy",
                    "model": key,
                    "set": name,
                    "backend": backend,
                    "train_rows": len(train_x),
                    "test_rows": len(texts),
                    "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
                    "agreement_with_torch": round(
                        float(np.mean(predicted == head.predict(torch_emb))), 4
                    ),
                    "min_cosine": round(float(cosine.min()), 5),
                    "mean_cosine": round(float(cosine.mean()), 5),
                    "encode_s": round(seconds, 1),
                }
            )
        if name == "emotion":  # the speed workers' head: 6 labels
            save_file(
                {"coef": np.ascontiguousarray(head.coef_), "intercept": head.intercept_},
                str(work / "head.safetensors"),
            )
            (work / "head-labels.json").write_text(json.dumps(classes), encoding="utf-8")
        speed_texts += texts[: -(-args.speed_texts // len(data))]
    (work / "speed-texts.json").write_text(
        json.dumps(speed_texts[: args.speed_texts]), encoding="utf-8"
    )


def speed(key: str, work: Path, args: argparse.Namespace, emit: Any) -> None:
    for round_ in (1, 2):
        for backend in BACKENDS if round_ == 1 else reversed(BACKENDS):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", key, backend, str(work), str(args.calls)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            emit({**json.loads(out.strip().splitlines()[-1]), "round": round_})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="small,large")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--train-rows", type=int, default=1000)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--speed-texts", type=int, default=512)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument(
        "--large-rows",
        type=int,
        default=500,
        help="the large model's train / test rows and speed texts at most (it is ~7x slower)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        key, backend, work, calls = args.worker
        print(json.dumps(worker(key, backend, Path(work), int(calls))))
        return
    args.sets = args.sets.split(",")
    import onnx
    import onnxruntime

    from bench.machine import meta

    lines: list[dict[str, Any]] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("", encoding="utf-8")

    def emit(line: dict[str, Any]) -> None:
        lines.append(line)
        print(json.dumps(line), flush=True)
        with open(args.out, "a", encoding="utf-8") as f:  # kept as it goes: a crash loses none
            f.write(json.dumps(line) + "\n")

    emit(
        {
            **meta(THREADS),
            "model": args.models,
            "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__,
            "command": "python bench/backends.py " + " ".join(sys.argv[1:]),
            "out": str(args.out),
            "loadavg_1m": os.getloadavg()[0],  # other work on the machine (the lock is shared)
        }
    )
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        for key in args.models.split(","):
            work = Path(tmp) / key
            work.mkdir()
            sized = argparse.Namespace(**vars(args))
            if key == "large":
                for name in ("train_rows", "test_rows", "speed_texts"):
                    setattr(sized, name, min(getattr(args, name), args.large_rows))
            accuracy(key, work, sized, emit)
            speed(key, work, sized, emit)
    emit({"kind": "end", "date": meta(THREADS)["date"], "loadavg_1m": os.getloadavg()[0]})
    from bench.markdown import replace_section

    replace_section(args.doc, HEADING, section(lines))


def section(lines: list[dict[str, Any]]) -> str:
    """The Markdown of the Backends section from the result lines."""
    info = lines[0]
    out = [HEADING, ""]
    out.append(
        f"Measured {info['date']} on {info['nproc']} CPU cores ({info['cpu']}), {THREADS} threads; "
        f"Python {info['python']}, torch {info['torch']}, onnxruntime {info['onnxruntime']}, "
        f"onnx {info['onnx']}, sentence-transformers {info['sentence_transformers']}, "
        f"transformers {info['transformers']}. Command: `{info['command']}`; raw lines in "
        f"`{info.get('out', 'bench/results/backends.jsonl')}`. Load average (1 min) at the start "
        f"{info['loadavg_1m']:.2f}, at the end {lines[-1].get('loadavg_1m', float('nan')):.2f}."
    )
    out += ["", "### Speed and memory (best of two fresh processes per backend)", ""]
    out.append(
        "| model | backend | embed rows/s | classify rows/s | one-text classify p50 / p95 ms "
        "| load s | peak RSS MB | vs torch: batch / p50 |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")
    speeds = [line for line in lines if line.get("kind") == "speed"]
    for key in dict.fromkeys(line["model"] for line in speeds):
        best: dict[str, dict[str, Any]] = {}
        for backend in BACKENDS:
            rows = [s for s in speeds if s["model"] == key and s["backend"] == backend]
            best[backend] = {
                "embed": max(r["embed_rows_per_s"] for r in rows),
                "classify": max(r["classify_rows_per_s"] for r in rows),
                "p50": min(r["classify_one_p50_ms"] for r in rows),
                "p95": min(r["classify_one_p95_ms"] for r in rows),
                "load": min(r["load_s"] for r in rows),
                "rss": max(r["peak_rss_mb"] for r in rows),
            }
        base = best["torch"]
        for backend, b in best.items():
            ratio = (
                f"{b['classify'] / base['classify']:.2f}x / {base['p50'] / b['p50']:.2f}x"
                if backend != "torch"
                else "1x"
            )
            out.append(
                f"| {key} | {backend} | {b['embed']:.0f} | {b['classify']:.0f} | "
                f"{b['p50']:.1f} / {b['p95']:.1f} | {b['load']:.1f} | {b['rss']} | {ratio} |"
            )
    out += ["", "### Test macro-F1 (the same head on each backend's embeddings)", ""]
    out.append(
        "| model | set | test rows | torch | onnx | onnx-int8 | int8 - torch (points) "
        "| int8 agreement | int8 min cosine |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    acc = [line for line in lines if line.get("kind") == "accuracy"]
    for key in dict.fromkeys(line["model"] for line in acc):
        for name in dict.fromkeys(line["set"] for line in acc if line["model"] == key):
            by = {a["backend"]: a for a in acc if a["model"] == key and a["set"] == name}
            delta = (by["onnx-int8"]["macro_f1"] - by["torch"]["macro_f1"]) * 100
            out.append(
                f"| {key} | {name} | {by['torch']['test_rows']} | {by['torch']['macro_f1']:.4f} "
                f"| {by['onnx']['macro_f1']:.4f} | {by['onnx-int8']['macro_f1']:.4f} "
                f"| {delta:+.2f} | {by['onnx-int8']['agreement_with_torch']:.1%} "
                f"| {by['onnx-int8']['min_cosine']:.3f} |"
            )
    out += ["", "### The export checks (`ensure_body`, as `core export` runs them)", ""]
    out.append("| model | backend | texts | min cosine | mean cosine | file MB | seconds |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for line in lines:
        if line.get("kind") == "export":
            out.append(
                f"| {line['model']} | {line['backend']} | {line['texts']} | "
                f"{line['min_cosine']:.4f} | {line['mean_cosine']:.4f} | "
                f"{line['bytes'] / 1e6:.0f} | {line['seconds']} |"
            )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()

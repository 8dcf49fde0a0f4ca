"""Ways to make an int8 body, side by side in one process (issue 19: int8 at least 2x PyTorch's
batch throughput and test macro-F1 within 0.5 points on every shared set).

    .venv/bin/python bench/int8_variants.py [--model small] [--threads 2]
        [--out bench/results/int8-variants.jsonl]

Bodies, all from the same base model:
- `dynamo fp32` / `dynamo int8`: what `core export` made until 2026-12-01 (`torch.onnx`
  dynamo graph; int8 = dynamic per-channel int8 MatMuls, the down-projections kept in fp32).
- `fused fp32`: the TorchScript exporter with eager attention, then ONNX Runtime's transformer
  optimizer (`onnxruntime.transformers.optimizer`, model_type bert), which fuses each layer's
  attention into one `Attention` node, the GELUs and the layer norms (`core export` makes this
  one since 2026-12-01: `core.model.onnx.export.export_fused`).
- `fused int8 ...`: dynamic int8 (`quantize_dynamic`, per channel) of the fused graph's MatMul
  and Attention nodes: all of them, with the down-projections in fp32, or with both
  feed-forward products in fp32.
- `fused nbits8 ...`: ONNX Runtime's `MatMulNBitsQuantizer` (8-bit weights in blocks,
  `accuracy_level=4`: int8 arithmetic with the activations quantised per block, not per
  tensor), with the Attention nodes left fp32 or quantised as above.

Measured for each: cosine with PyTorch's embeddings on the speed texts, embedding throughput
(best of 3 alternating rounds over the same sst2 test texts, batch 32), and test macro-F1 on each
shared set with one logistic-regression head fitted on PyTorch's embeddings (as
bench/backends.py measures it)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.env import set_offline_env  # noqa: E402

set_offline_env()

from bench.backends import DATA, SETS, read_rows  # noqa: E402


def quantize_int8(source: Path, dest: Path, keep: str) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from core.model.onnx import feed_forward_products

    graph = onnx.load(str(source))
    exclude = [] if keep == "none" else feed_forward_products(graph, up=keep == "feed-forward")
    quantize_dynamic(
        graph,
        str(dest),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        nodes_to_exclude=exclude,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def quantize_nbits(source: Path, dest: Path, block: int, attention: bool) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(source)), bits=8, block_size=block, is_symmetric=True, accuracy_level=4
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(dest), False)
    if attention:
        quantize_dynamic(
            onnx.load(str(dest)),
            str(dest),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["Attention"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def bodies(model: Any, work: Path) -> dict[str, Path]:
    from core.model.onnx import export_fp32
    from core.model.onnx import quantize_int8 as quantize_default

    files = {name: work / f"{i}.onnx" for i, name in enumerate(VARIANTS)}
    export_fp32(model, files["dynamo fp32"])
    quantize_default(files["dynamo fp32"], files["dynamo int8 (earlier default)"])
    export_fp32(model, files["fused fp32"], "fused")
    for name, keep in (
        ("fused int8, all", "none"),
        ("fused int8, down-proj. fp32", "down"),
        ("fused int8, feed-forward fp32", "feed-forward"),
    ):
        quantize_int8(files["fused fp32"], files[name], keep)
    quantize_nbits(files["fused fp32"], files["fused nbits8/128, attention fp32"], 128, False)
    quantize_nbits(files["fused fp32"], files["fused nbits8/128, attention int8"], 128, True)
    return files


VARIANTS = (
    "dynamo fp32",
    "dynamo int8 (earlier default)",
    "fused fp32",
    "fused int8, all",
    "fused int8, down-proj. fp32",
    "fused int8, feed-forward fp32",
    "fused nbits8/128, attention fp32",
    "fused nbits8/128, attention int8",
)


def summarise(path: Path) -> str:
    """One Markdown row per body: speed, cosine, and test macro-F1 points against PyTorch on
    each set (with how many sets stay within 0.5 points)."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    speed = {r["body"]: r for r in lines if r.get("kind") == "speed"}
    f1 = [r for r in lines if r.get("kind") == "f1"]
    sets = list(dict.fromkeys(r["set"] for r in f1))
    short = [name.split("/")[-1] for name in sets]
    rows = [
        "| body | texts/s | vs torch | min / mean cosine | MB | "
        + " | ".join(short)
        + " | sets within 0.5 |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(sets) + "---:|",
    ]
    for body, r in speed.items():
        points = {x["set"]: x["points_vs_torch"] for x in f1 if x["body"] == body}
        within = sum(abs(points[s]) <= 0.5 for s in sets if s in points)
        rows.append(
            f"| {body} | {r['texts_per_s']:.0f} | {r['vs_torch']:.2f}x | "
            f"{r['min_cosine']:.4f} / {r['mean_cosine']:.4f} | {r['mb'] or ''} | "
            + " | ".join(f"{points.get(s, float('nan')):+.2f}" for s in sets)
            + f" | {within} of {len(sets)} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed-texts", type=int, default=512)
    parser.add_argument("--train-rows", type=int, default=600)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/int8-variants.jsonl")
    parser.add_argument("--summary", action="store_true", help="only print the table of --out")
    args = parser.parse_args()
    if args.summary:
        print(summarise(args.out))
        return
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import torch
    from sklearn.metrics import f1_score

    from bench.machine import meta
    from core.config import TrainConfig
    from core.model.catalogue import load_model, model_path
    from core.model.heads import encode, fit_head
    from core.model.onnx import load_onnx

    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = args.out.open("w", encoding="utf-8")

    def emit(line: dict[str, Any]) -> None:
        print(json.dumps(line), flush=True)
        out.write(json.dumps(line) + "\n")
        out.flush()

    emit({**meta(args.threads), "argv": sys.argv[1:]})
    reference = load_model(args.model, device="cpu")
    with tempfile.TemporaryDirectory(prefix="int8-variants-") as tmp:
        files = bodies(reference, Path(tmp))
        models = {"torch": reference}
        models |= {
            name: load_onnx(model_path(args.model), f, args.threads) for name, f in files.items()
        }
        texts = read_rows(DATA / "sst2" / "test.csv", args.speed_texts)[0]
        ref = encode(reference, texts)
        best = dict.fromkeys(models, 0.0)
        for round_ in range(3):
            order = list(models) if round_ % 2 == 0 else list(reversed(models))
            for name in order:
                started = time.perf_counter()
                models[name].encode(texts, batch_size=32)
                best[name] = max(best[name], len(texts) / (time.perf_counter() - started))
        for name, model in models.items():
            got = encode(model, texts)
            cosine = (got * ref).sum(1) / (
                np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1)
            )
            emit(
                {
                    "kind": "speed",
                    "body": name,
                    "texts_per_s": round(best[name], 1),
                    "vs_torch": round(best[name] / best["torch"], 3),
                    "min_cosine": round(float(cosine.min()), 4),
                    "mean_cosine": round(float(cosine.mean()), 4),
                    "mb": round(files[name].stat().st_size / 1e6) if name in files else None,
                }
            )
        for set_name in SETS:
            train_x, train_y = read_rows(DATA / set_name / "train.csv", args.train_rows)
            test_x, test_y = read_rows(DATA / set_name / "test.csv", args.test_rows)
            classes = sorted(set(train_y))
            head = fit_head(
                encode(reference, train_x),
                np.array([classes.index(label) for label in train_y]),
                TrainConfig(),
            )
            known = [i for i, label in enumerate(test_y) if label in classes]
            texts = [test_x[i] for i in known]
            truth = np.array([classes.index(test_y[i]) for i in known])
            torch_predicted = head.predict(encode(reference, texts))
            torch_f1 = f1_score(truth, torch_predicted, average="macro")
            for name, model in models.items():
                predicted = head.predict(encode(model, texts)) if name in files else torch_predicted
                f1 = f1_score(truth, predicted, average="macro")
                emit(
                    {
                        "kind": "f1",
                        "set": set_name,
                        "body": name,
                        "test_rows": len(texts),
                        "macro_f1": round(float(f1), 4),
                        "points_vs_torch": round(100 * float(f1 - torch_f1), 2),
                        "agreement": round(float(np.mean(predicted == torch_predicted)), 4),
                    }
                )
    emit({"kind": "end", "load_average_1min": round(os.getloadavg()[0], 2)})


if __name__ == "__main__":
    main()
